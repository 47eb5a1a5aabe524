"""Training tokens/s of keras-gpt1 vs keras-hub's GPT2 vs Hugging Face's
PyTorch OpenAIGPTLMHeadModel at equal dims.

All models are trained side by side in one process (dropout 0.1, Adam,
random token ids; the Keras models with XLA on, PyTorch on the CPU with its
default thread count), alternating rounds so that load on the machine hits
them alike. Prints a table, the ratios, and model FLOPs utilisation against
a matmul peak measured here, the better of before and after the rounds
(float32; bfloat16 too for the Keras models under `--precision
mixed_bfloat16`). PyTorch is skipped, with a note, when torch or
transformers does not import.

PyTorch's OpenMP threads slow down far more than TensorFlow's when another
process takes a core (up to ~10x at load 2 on 2 cores), so compare it on
an idle machine; the 1-minute load average before and after is printed.

    cd benchmarks && python train_throughput.py [--rounds 5] [--steps 10]
        [--precision float32|mixed_bfloat16] [--quick] [--json]
"""

import argparse
import json
import os
import time

import keras
import numpy as np
from benchmarks_timing import matmul_peak_gflops
from benchmarks_timing import training_flops_per_token

import keras_gpt1

DIMS = dict(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024,
            seq_len=128, batch_size=8, vocabulary_size=8000)
DROPOUT = 0.1
LEARNING_RATE = 1e-4
WARMUP_STEPS = 3  # XLA compilation happens in the first step
OURS = "keras-gpt1 GPT1CausalLM"
KERAS_HUB = "keras-hub GPT2CausalLM"
TRANSFORMERS = "transformers OpenAIGPTLMHead (torch)"


def random_batch():
    """Next-token inputs and targets, int32 `(batch_size, seq_len)` each."""
    d = DIMS
    ids = np.random.default_rng(0).integers(
        0, d["vocabulary_size"], (d["batch_size"], d["seq_len"] + 1)).astype("int32")
    return ids[:, :-1], ids[:, 1:]


def compile_keras(model, **kwargs):
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True, **kwargs)


def build_ours():
    """-> (one train step, parameter count, compute dtype)."""
    d = DIMS
    backbone = keras_gpt1.GPT1Backbone(
        vocabulary_size=d["vocabulary_size"], num_layers=d["num_layers"],
        num_heads=d["num_heads"], hidden_dim=d["hidden_dim"],
        intermediate_dim=d["intermediate_dim"], max_sequence_length=d["seq_len"],
        dropout=DROPOUT,
    )
    model = keras_gpt1.GPT1CausalLM(backbone)
    compile_keras(model, metrics=[])
    x, y = random_batch()
    return lambda: model.train_on_batch(x, y), model.count_params(), model.compute_dtype


def build_keras_hub():
    import keras_hub

    d = DIMS
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=d["vocabulary_size"], num_layers=d["num_layers"],
        num_heads=d["num_heads"], hidden_dim=d["hidden_dim"],
        intermediate_dim=d["intermediate_dim"], max_sequence_length=d["seq_len"],
        dropout=DROPOUT,
    )
    model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    compile_keras(model, weighted_metrics=[])
    x, y = random_batch()
    inputs = {"token_ids": x, "padding_mask": np.ones_like(x)}
    return (lambda: model.train_on_batch(inputs, y), model.count_params(),
            model.compute_dtype)


def build_transformers():
    """Hugging Face's PyTorch GPT-1 (MLP width is 4 x hidden_dim, as here)."""
    import torch
    from transformers import OpenAIGPTConfig
    from transformers import OpenAIGPTLMHeadModel

    d = DIMS
    torch.manual_seed(0)
    config = OpenAIGPTConfig(
        vocab_size=d["vocabulary_size"], n_positions=d["seq_len"],
        n_embd=d["hidden_dim"], n_layer=d["num_layers"], n_head=d["num_heads"],
        embd_pdrop=DROPOUT, resid_pdrop=DROPOUT, attn_pdrop=DROPOUT,
    )
    model = OpenAIGPTLMHeadModel(config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    x, y = (torch.from_numpy(a).long() for a in random_batch())
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(input_ids=x).logits
        loss_fn(logits.reshape(-1, d["vocabulary_size"]), y.reshape(-1)).backward()
        optimizer.step()

    parameters = sum(p.numel() for p in model.parameters())  # tied head counted once
    return step, parameters, "float32"


def time_steps(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"),
                        default="float32", help="dtype policy of the Keras models")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 steps")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 1, 2

    load_before = os.getloadavg()[0]
    peaks = {"float32": matmul_peak_gflops()}
    if args.precision == "mixed_bfloat16":
        peaks["bfloat16"] = matmul_peak_gflops(dtype="bfloat16")
    keras.config.set_dtype_policy(args.precision)
    contenders = {OURS: build_ours(), KERAS_HUB: build_keras_hub()}
    notes = []
    try:
        import torch

        contenders[TRANSFORMERS] = build_transformers()
        notes.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads "
                     "(default), float32")
    except ImportError as error:
        notes.append(f"{TRANSFORMERS} skipped: {error}")

    for step, _, _ in contenders.values():
        time_steps(step, WARMUP_STEPS)
    seconds = {name: 0.0 for name in contenders}
    for _ in range(args.rounds):
        for name, (step, _, _) in contenders.items():
            seconds[name] += time_steps(step, args.steps)

    for dtype in peaks:  # best of before and after the rounds: load varies
        peaks[dtype] = max(peaks[dtype], matmul_peak_gflops(dtype=dtype))
    load = {"before": load_before, "after": os.getloadavg()[0]}
    tokens = args.rounds * args.steps * DIMS["batch_size"] * DIMS["seq_len"]
    rows = []
    for name, (_, params, dtype) in contenders.items():
        tps = tokens / seconds[name]
        flops = training_flops_per_token(params, DIMS["num_layers"], DIMS["hidden_dim"], DIMS["seq_len"])
        rows.append({"model": name, "parameters": params, "dtype": dtype,
                     "tokens_per_second": tps, "gflops": tps * flops / 1e9,
                     "mfu": tps * flops / 1e9 / peaks[dtype]})
    speed = {r["model"]: r["tokens_per_second"] for r in rows}
    ratio = speed[OURS] / speed[KERAS_HUB]

    print(f"dims {DIMS}, dropout {DROPOUT}, Adam; Keras: XLA on, {args.precision}; "
          f"load average {load['before']:.1f} -> {load['after']:.1f}")
    print("matmul peak (XLA, 2048^2): "
          + ", ".join(f"{dtype} {p:.0f} GFLOP/s" for dtype, p in peaks.items()))
    print(f"{'model':38s} {'params':>10s} {'dtype':>8s} {'tokens/s':>10s} {'GFLOP/s':>9s} {'MFU':>6s}")
    for r in rows:
        print(f"{r['model']:38s} {r['parameters']:10,d} {r['dtype']:>8s} "
              f"{r['tokens_per_second']:10,.0f} {r['gflops']:9.1f} {r['mfu']:6.1%}")
    print(f"ratio keras-gpt1 / keras-hub: {ratio:.2f}x")
    result = {"dims": DIMS, "matmul_peak_gflops": peaks["float32"], "rows": rows,
              "ratio": ratio, "precision": args.precision,
              "matmul_peak_gflops_by_dtype": peaks, "rounds": args.rounds,
              "steps": args.steps, "load_average": load, "notes": notes}
    if TRANSFORMERS in speed:
        result["ratio_vs_transformers"] = speed[OURS] / speed[TRANSFORMERS]
        print(f"ratio keras-gpt1 / transformers (torch): {result['ratio_vs_transformers']:.2f}x")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
