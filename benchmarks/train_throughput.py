"""Training tokens/s of keras-gpt1 vs keras-hub's GPT2 at equal dims.

Both models are trained side by side in one process (XLA on, Adam,
dropout 0.1, random token ids), alternating rounds so that load on the
machine hits both alike. Prints a table, the ratio, and model FLOPs
utilisation against a matmul peak measured here.

    python benchmarks/train_throughput.py [--rounds 5] [--steps 10] [--json]
"""

import argparse
import json
import time

import keras
import numpy as np
from benchmarks_timing import matmul_peak_gflops
from benchmarks_timing import training_flops_per_token

import keras_gpt1

DIMS = dict(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024,
            seq_len=128, batch_size=8, vocabulary_size=8000)


def build_ours():
    d = DIMS
    backbone = keras_gpt1.GPT1Backbone(
        vocabulary_size=d["vocabulary_size"], num_layers=d["num_layers"],
        num_heads=d["num_heads"], hidden_dim=d["hidden_dim"],
        intermediate_dim=d["intermediate_dim"], max_sequence_length=d["seq_len"],
        dropout=0.1,
    )
    model = keras_gpt1.GPT1CausalLM(backbone)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[], jit_compile=True)
    ids = np.random.default_rng(0).integers(0, d["vocabulary_size"], (d["batch_size"], d["seq_len"] + 1)).astype("int32")
    return model, (ids[:, :-1], ids[:, 1:])


def build_keras_hub():
    import keras_hub

    d = DIMS
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=d["vocabulary_size"], num_layers=d["num_layers"],
        num_heads=d["num_heads"], hidden_dim=d["hidden_dim"],
        intermediate_dim=d["intermediate_dim"], max_sequence_length=d["seq_len"],
        dropout=0.1,
    )
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[], jit_compile=True)
    ids = np.random.default_rng(0).integers(0, d["vocabulary_size"], (d["batch_size"], d["seq_len"] + 1)).astype("int32")
    x = {"token_ids": ids[:, :-1], "padding_mask": np.ones_like(ids[:, :-1])}
    return model, (x, ids[:, 1:])


def time_steps(model, batch, steps):
    x, y = batch
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    peak = matmul_peak_gflops()
    contenders = {"keras-gpt1 GPT1CausalLM": build_ours(), "keras-hub GPT2CausalLM": build_keras_hub()}
    for model, batch in contenders.values():  # compile (XLA) before timing
        time_steps(model, batch, 3)
    seconds = {name: 0.0 for name in contenders}
    for _ in range(args.rounds):
        for name, (model, batch) in contenders.items():
            seconds[name] += time_steps(model, batch, args.steps)

    tokens = args.rounds * args.steps * DIMS["batch_size"] * DIMS["seq_len"]
    rows = []
    for name, (model, _) in contenders.items():
        params = model.count_params()
        tps = tokens / seconds[name]
        flops = training_flops_per_token(params, DIMS["num_layers"], DIMS["hidden_dim"], DIMS["seq_len"])
        rows.append({"model": name, "parameters": params, "tokens_per_second": tps,
                     "gflops": tps * flops / 1e9, "mfu": tps * flops / 1e9 / peak})
    ratio = rows[0]["tokens_per_second"] / rows[1]["tokens_per_second"]
    print(f"dims {DIMS}, XLA on; matmul peak {peak:.0f} GFLOP/s (float32, 2048^2)")
    print(f"{'model':28s} {'params':>10s} {'tokens/s':>10s} {'GFLOP/s':>9s} {'MFU':>6s}")
    for r in rows:
        print(f"{r['model']:28s} {r['parameters']:10,d} {r['tokens_per_second']:10,.0f} {r['gflops']:9.1f} {r['mfu']:6.1%}")
    print(f"ratio keras-gpt1 / keras-hub: {ratio:.2f}x")
    if args.json:
        print(json.dumps({"dims": DIMS, "matmul_peak_gflops": peak, "rows": rows, "ratio": ratio}))


if __name__ == "__main__":
    main()
