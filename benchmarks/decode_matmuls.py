"""The matmuls of one KV-cache decode step alone, at 1 and 8 rows, inside
one XLA-compiled loop of 64 steps (no per-call dispatch): what a decode
step cannot go below on this CPU.

    cd benchmarks && python decode_matmuls.py

Benchmark dims: 4 blocks of fused QKV (256 -> 768), output projection
(256 -> 256), MLP (256 -> 1024 -> 256), then the LM head (256 -> 8000).
"""

import time

import tensorflow as tf

L, D, F, V = 4, 256, 1024, 8000
STEPS = 64


def main():
    shapes = [(D, 3 * D), (D, D), (D, F), (F, D)] * L + [(D, V)]
    weights = [tf.random.normal(s) * 0.01 for s in shapes]

    @tf.function(jit_compile=True)
    def decode(x):
        def body(i, x):
            h = x
            for layer in range(L):
                qkv, proj, up, down = weights[4 * layer: 4 * layer + 4]
                h = h + tf.matmul(tf.matmul(h, qkv)[:, :D], proj)
                h = h + tf.matmul(tf.nn.gelu(tf.matmul(h, up)), down)
                h = h / (1.0 + tf.reduce_mean(tf.abs(h), -1, keepdims=True))
            logits = tf.matmul(h, weights[-1])
            return i + 1, h + 1e-6 * tf.reduce_mean(logits, -1, keepdims=True)

        return tf.while_loop(lambda i, x: i < STEPS, body, (0, x))[1]

    for rows in (1, 8):
        x = tf.random.normal((rows, D))
        decode(x).numpy()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            decode(x).numpy()
            best = min(best, time.perf_counter() - start)
        flops = STEPS * 2 * rows * sum(k * n for k, n in shapes)
        print(f"batch {rows}: {best / STEPS * 1e3:.3f} ms of matmuls per decode step, "
              f"{flops / best / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
