"""Where bfloat16 helps on this CPU: the matmuls of a training step at the
benchmark dims (and the gpt1 preset's), float32 vs bfloat16, compiled by
XLA vs run by TensorFlow's oneDNN kernels, side by side in one process.

    cd benchmarks && python bf16_matmul.py [--repeats 20] [--json]

Each row is one `(m, k) @ (k, n)` product of the forward pass with
m = batch x sequence = 1024 tokens; GFLOP/s is 2mkn / time (best of 3
rounds of `--repeats` calls).
"""

import argparse
import json
import time

import tensorflow as tf

TOKENS = 1024
SHAPES = {
    # name: (k, n)
    "qkv 256->768": (256, 768),
    "mlp up 256->1024": (256, 1024),
    "mlp down 1024->256": (1024, 256),
    "lm head 256->8000": (256, 8000),
    "gpt1 qkv 768->2304": (768, 2304),
    "gpt1 mlp up 768->3072": (768, 3072),
    "gpt1 lm head 768->40478": (768, 40478),
}
PATHS = [("float32", False), ("float32", True), ("bfloat16", False), ("bfloat16", True)]


def time_matmul(k, n, dtype, xla, repeats):
    a = tf.random.normal((TOKENS, k), dtype=tf.float32)
    b = tf.random.normal((k, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    f = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=xla)
    f(a, b).numpy()  # compile
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = f(a, b)
        out.numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * TOKENS * k * n / best / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    header = f"{'matmul (1024 tokens)':26}" + "".join(
        f"{d + (' XLA' if x else ' oneDNN'):>17}" for d, x in PATHS)
    print(header + "   (GFLOP/s)")
    for name, (k, n) in SHAPES.items():
        speeds = {f"{d}_{'xla' if x else 'onednn'}": time_matmul(k, n, d, x, args.repeats)
                  for d, x in PATHS}
        rows.append({"matmul": name, "k": k, "n": n, **speeds})
        print(f"{name:26}" + "".join(f"{v:17,.0f}" for v in speeds.values()))
    if args.json:
        print(json.dumps({"tokens": TOKENS, "rows": rows}))


if __name__ == "__main__":
    main()
