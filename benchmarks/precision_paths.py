"""Training tokens/s of keras-gpt1 in float32 and mixed bfloat16, each with
XLA and without (TensorFlow's oneDNN kernels), alternating in one process.

    cd benchmarks && python precision_paths.py [--rounds 3] [--steps 5] [--json]

Two model sizes, batch 8 x seq 128 = 1024 tokens per step, Adam, dropout
0.1: the benchmark dims (4 layers, 256 wide, vocab 8000) and a gpt1-width
slice (2 layers of the gpt1 preset: 768 wide, 12 heads, vocab 40478).
"""

import argparse
import json
import time

import keras
import numpy as np

import keras_gpt1

SIZES = {
    "4 x 256, vocab 8000": dict(num_layers=4, hidden_dim=256, num_heads=4,
                                intermediate_dim=1024, vocabulary_size=8000),
    "2 x 768, vocab 40478": dict(num_layers=2, hidden_dim=768, num_heads=12,
                                 intermediate_dim=3072, vocabulary_size=40478),
}
BATCH, SEQ = 8, 128
PATHS = [("float32", True), ("float32", False), ("mixed_bfloat16", True),
         ("mixed_bfloat16", False)]


def build(dims, precision, xla):
    keras.utils.set_random_seed(0)
    backbone = keras_gpt1.GPT1Backbone(max_sequence_length=SEQ, dropout=0.1,
                                       dtype=precision, **dims)
    model = keras_gpt1.GPT1CausalLM(backbone)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=xla)
    ids = np.random.default_rng(0).integers(
        0, dims["vocabulary_size"], (BATCH, SEQ + 1)).astype("int32")
    x, y = ids[:, :-1], ids[:, 1:]
    model.train_on_batch(x, y)  # trace / compile
    return lambda: model.train_on_batch(x, y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for size, dims in SIZES.items():
        steps = {path: build(dims, *path) for path in PATHS}
        best = {path: float("inf") for path in PATHS}
        for _ in range(args.rounds):
            for path, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                best[path] = min(best[path], (time.perf_counter() - start) / args.steps)
        base = BATCH * SEQ / best[("float32", True)]
        for (precision, xla), seconds in best.items():
            tokens = BATCH * SEQ / seconds
            rows.append({"size": size, "precision": precision, "xla": xla,
                         "tokens_per_second": tokens, "vs_float32_xla": tokens / base})
            print(f"{size:22} {precision:15} {'XLA' if xla else 'no XLA':7} "
                  f"{tokens:9,.0f} tokens/s  {tokens / base:5.2f}x")
    if args.json:
        print(json.dumps({"batch": BATCH, "seq_len": SEQ, "rows": rows}))


if __name__ == "__main__":
    main()
