"""Where a training step's time goes: the step against the time its matmuls
take when run alone at the same shapes, dtype and compiler, and the
optimizer update alone.

    cd benchmarks && python step_breakdown.py [--steps 10] [--json]

keras-gpt1 at the benchmark dims (4 layers, 256 wide, 4 heads, MLP 1024,
vocab 8000, batch 8 x seq 128, dropout 0.1, Adam) on two paths: float32
with XLA and mixed bfloat16 without XLA (TensorFlow's oneDNN kernels).
"Matmuls alone" times every product of the forward pass (the fused QKV
projection, attention scores and mixing, output projection, MLP up and
down, tied LM head) and counts the backward pass as two more of each;
the rest of the step is layer norms, softmax, GELU, dropout, the loss,
casts and the framework.
"""

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

import keras_gpt1

L, D, H, F, V = 4, 256, 4, 1024, 8000
B, T = 8, 128
PATHS = [("float32", True), ("mixed_bfloat16", False)]


def best_time(fn, repeats):
    fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = fn()
        if isinstance(out, tf.Tensor):
            out.numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def matmul_seconds(dtype, xla, repeats):
    """Forward matmuls of one step: (batch dims, m, k, n, count per step)."""
    dh = D // H
    shapes = [
        ((), B * T, D, 3 * D, L),          # fused QKV
        ((B * H,), T, dh, T, L),           # q k^T
        ((B * H,), T, T, dh, L),           # weights v
        ((), B * T, D, D, L),              # output projection
        ((), B * T, D, F, L),              # MLP up
        ((), B * T, F, D, L),              # MLP down
        ((), B * T, D, V, 1),              # tied LM head
    ]
    total = 0.0
    for batch, m, k, n, count in shapes:
        a = tf.cast(tf.random.normal((*batch, m, k)), dtype)
        b = tf.cast(tf.random.normal((*batch, k, n)), dtype)
        f = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=xla)
        total += count * best_time(lambda: f(a, b), repeats)
    return 3 * total  # forward + two backward products of each


def build(precision, xla):
    keras.utils.set_random_seed(0)
    backbone = keras_gpt1.GPT1Backbone(
        vocabulary_size=V, num_layers=L, num_heads=H, hidden_dim=D,
        intermediate_dim=F, max_sequence_length=T, dropout=0.1, dtype=precision)
    model = keras_gpt1.GPT1CausalLM(backbone)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=xla)
    ids = np.random.default_rng(0).integers(0, V, (B, T + 1)).astype("int32")
    return model, ids[:, :-1], ids[:, 1:]


def optimizer_seconds(model, xla, repeats):
    variables = model.trainable_variables
    grads = [tf.random.normal(v.shape) * 1e-3 for v in variables]
    optimizer = keras.optimizers.Adam(1e-4)
    optimizer.build(variables)
    update = tf.function(lambda: optimizer.apply(grads, variables), jit_compile=xla)
    return best_time(update, repeats)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for precision, xla in PATHS:
        model, x, y = build(precision, xla)
        step = best_time(lambda: model.train_on_batch(x, y), args.steps)
        dtype = "bfloat16" if precision == "mixed_bfloat16" else "float32"
        matmuls = matmul_seconds(dtype, xla, args.steps)
        update = optimizer_seconds(model, xla, args.steps)
        rest = step - matmuls - update
        rows.append({"precision": precision, "xla": xla, "step_ms": 1e3 * step,
                     "matmuls_ms": 1e3 * matmuls, "optimizer_ms": 1e3 * update,
                     "rest_ms": 1e3 * rest, "tokens_per_second": B * T / step})
        print(f"{precision:15} {'XLA' if xla else 'no XLA':7} step {1e3 * step:6.1f} ms "
              f"= matmuls alone {1e3 * matmuls:6.1f} ({matmuls / step:4.0%}) + Adam "
              f"{1e3 * update:5.1f} ({update / step:4.0%}) + rest {1e3 * rest:6.1f} "
              f"({rest / step:4.0%}); {B * T / step:,.0f} tokens/s")
    if args.json:
        print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
