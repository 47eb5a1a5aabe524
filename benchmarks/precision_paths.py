"""Training tokens/s of keras-gpt1 in float32 and mixed bfloat16, each with
XLA and without (TensorFlow's oneDNN kernels), alternating in one process;
at the benchmark dims keras-hub's GPT2CausalLM runs the same four paths, so
each implementation's best path can be compared.

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
BENCHMARK_DIMS = "4 x 256, vocab 8000"
BATCH, SEQ = 8, 128
PATHS = [("float32", True), ("float32", False), ("mixed_bfloat16", True),
         ("mixed_bfloat16", False)]


def build(implementation, dims, precision, xla):
    import keras_hub

    keras.utils.set_random_seed(0)
    ids = np.random.default_rng(0).integers(
        0, dims["vocabulary_size"], (BATCH, SEQ + 1)).astype("int32")
    x, y = ids[:, :-1], ids[:, 1:]
    if implementation == "keras-gpt1":
        backbone = keras_gpt1.GPT1Backbone(max_sequence_length=SEQ, dropout=0.1,
                                           dtype=precision, **dims)
        model = keras_gpt1.GPT1CausalLM(backbone)
    else:
        backbone = keras_hub.models.GPT2Backbone(max_sequence_length=SEQ, dropout=0.1,
                                                 dtype=precision, **dims)
        model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
        x = {"token_ids": x, "padding_mask": np.ones_like(x)}
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=xla)
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
        implementations = ["keras-gpt1"]
        if size == BENCHMARK_DIMS:
            implementations.append("keras-hub")
        paths = [(i, *p) for i in implementations for p in PATHS]
        steps = {path: build(path[0], dims, *path[1:]) for path in paths}
        best = {path: float("inf") for path in paths}
        for _ in range(args.rounds):
            for path, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                best[path] = min(best[path], (time.perf_counter() - start) / args.steps)
        base = BATCH * SEQ / best[("keras-gpt1", "float32", True)]
        for (implementation, precision, xla), seconds in best.items():
            tokens = BATCH * SEQ / seconds
            rows.append({"size": size, "implementation": implementation,
                         "precision": precision, "xla": xla,
                         "tokens_per_second": tokens, "vs_float32_xla": tokens / base})
            print(f"{size:22} {implementation:11} {precision:15} "
                  f"{'XLA' if xla else 'no XLA':7} {tokens:9,.0f} tokens/s  "
                  f"{tokens / base:5.2f}x")
        if len(implementations) > 1:
            ours = max(r["tokens_per_second"] for r in rows
                       if r["size"] == size and r["implementation"] == "keras-gpt1")
            theirs = max(r["tokens_per_second"] for r in rows
                         if r["size"] == size and r["implementation"] == "keras-hub")
            print(f"best path vs best path: keras-gpt1 / keras-hub = {ours / theirs:.2f}x")
    if args.json:
        print(json.dumps({"batch": BATCH, "seq_len": SEQ, "rows": rows}))


if __name__ == "__main__":
    main()
