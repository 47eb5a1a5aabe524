"""Training tokens/s of keras-gpt1, keras-hub's GPT-2 and Hugging Face's
PyTorch GPT-1, each on every path it has on this CPU, side by side.

Contenders and their paths, all built in one process and timed in
alternating rounds (load on the machine hits them alike):

- keras-gpt1 `GPT1CausalLM`: float32 and mixed bfloat16, each with XLA and
  without (TensorFlow's oneDNN kernels); `default` is what `pretrain
  --precision auto` picks on this machine;
- keras-hub `GPT2CausalLM` (same dims; GPT-2 is pre-LN with one more
  LayerNorm): the same four paths;
- transformers `OpenAIGPTLMHeadModel` (PyTorch, CPU): eager and
  `torch.compile` (inductor), each float32 and with bfloat16 autocast.

Each path: dropout 0.1, the paper's optimizer in each library's fastest
form — AdamW (lr 1e-4, decoupled weight decay 0.01, global-norm clipping
at 1.0): keras-gpt1's `GPT1AdamW` (one fused update op per variable on
TensorFlow), Keras's `AdamW` for keras-hub, PyTorch's `AdamW(fused=True)`
with `clip_grad_norm_` — random token ids, batch 8 x seq 128
(1,024 tokens per step). The first steps compile (untimed); then `--rounds`
rounds of `--steps` steps per path, and the best round of each path counts
(its mean step time). MFU = tokens/s x (6N + 12·L·d·T) FLOPs per token
against the float32 or bfloat16 matmul peak measured in the same run (a
2048² matmul, the faster of XLA and oneDNN, best of before and after the
rounds). Prints the table, each contender's best path, and the ratios of
keras-gpt1's default path to every peer's best; `--json` adds one JSON line
(with the CPU model, flags, load average and library versions).

    cd benchmarks && python train_throughput.py [--dims bench|gpt1_width]
        [--rounds 3] [--steps 8] [--skip-torch-compile] [--json]
"""

import argparse
import json
import os
import platform
import time

import keras
import numpy as np
from benchmarks_timing import machine_description
from benchmarks_timing import matmul_peak_gflops
from benchmarks_timing import training_flops_per_token

import keras_gpt1

DIMS = {
    "bench": dict(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024,
                  vocabulary_size=8000),
    # Two blocks of the gpt1 preset: its width, heads, MLP and vocabulary.
    "gpt1_width": dict(num_layers=2, hidden_dim=768, num_heads=12,
                       intermediate_dim=3072, vocabulary_size=40478),
}
BATCH, SEQ = 8, 128
DROPOUT = 0.1
LEARNING_RATE = 1e-4
WEIGHT_DECAY = 0.01
CLIPNORM = 1.0
WARMUP_STEPS = 3
KERAS_PATHS = [("float32", True), ("float32", False), ("mixed_bfloat16", True),
               ("mixed_bfloat16", False)]
OURS, KERAS_HUB, TRANSFORMERS = "keras-gpt1", "keras-hub GPT-2", "transformers GPT-1"


def token_batch(vocabulary_size):
    ids = np.random.default_rng(0).integers(
        0, vocabulary_size, (BATCH, SEQ + 1)).astype("int32")
    return ids[:, :-1], ids[:, 1:]


def keras_step(implementation, dims, precision, xla):
    """-> (one train step, parameter count)."""
    import keras_hub

    keras.utils.set_random_seed(0)
    x, y = token_batch(dims["vocabulary_size"])
    common = dict(max_sequence_length=SEQ, dropout=DROPOUT, dtype=precision, **dims)
    if implementation == OURS:
        from keras_gpt1.optimizers import make_optimizer

        model = keras_gpt1.GPT1CausalLM(keras_gpt1.GPT1Backbone(**common))
        optimizer = make_optimizer(LEARNING_RATE, WEIGHT_DECAY, CLIPNORM)
    else:
        backbone = keras_hub.models.GPT2Backbone(**common)
        model = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
        x = {"token_ids": x, "padding_mask": np.ones_like(x)}
        optimizer = keras.optimizers.AdamW(LEARNING_RATE, weight_decay=WEIGHT_DECAY,
                                           global_clipnorm=CLIPNORM)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[], jit_compile=xla)
    return (lambda: keras.Model.train_on_batch(model, x, y)), model.count_params()


def torch_step(dims, compiled, bfloat16):
    """Hugging Face's PyTorch GPT-1 (MLP 4 x the width, as here)."""
    import torch
    from transformers import OpenAIGPTConfig
    from transformers import OpenAIGPTLMHeadModel

    torch.manual_seed(0)
    config = OpenAIGPTConfig(
        vocab_size=dims["vocabulary_size"], n_positions=SEQ, n_embd=dims["hidden_dim"],
        n_layer=dims["num_layers"], n_head=dims["num_heads"], embd_pdrop=DROPOUT,
        resid_pdrop=DROPOUT, attn_pdrop=DROPOUT)
    model = OpenAIGPTLMHeadModel(config).train()
    parameters = sum(p.numel() for p in model.parameters())  # tied head once
    try:  # the fused CPU kernel where this PyTorch has it
        optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE,
                                      weight_decay=WEIGHT_DECAY, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE,
                                      weight_decay=WEIGHT_DECAY)
    x, y = (torch.from_numpy(a).long() for a in token_batch(dims["vocabulary_size"]))
    loss_fn = torch.nn.CrossEntropyLoss()

    def forward_loss(x, y):
        logits = model(input_ids=x).logits
        return loss_fn(logits.float().reshape(-1, dims["vocabulary_size"]), y.reshape(-1))

    forward = torch.compile(forward_loss) if compiled else forward_loss

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = forward(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIPNORM)
        optimizer.step()

    return step, parameters


def auto_path():
    """What `pretrain --precision auto` trains with here."""
    from keras_gpt1.training.precision import resolve

    precision, xla = resolve("auto", None, on_cpu=True)
    return precision, xla


def contenders(dims, with_torch, with_torch_compile):
    """`{(implementation, path name): (step, parameters, compute dtype)}`."""
    cases = {}
    for implementation in (OURS, KERAS_HUB):
        for precision, xla in KERAS_PATHS:
            name = f"{precision}, {'XLA' if xla else 'no XLA'}"
            step, parameters = keras_step(implementation, dims, precision, xla)
            dtype = "bfloat16" if precision == "mixed_bfloat16" else "float32"
            cases[implementation, name] = (step, parameters, dtype)
    if with_torch:
        for compiled in ((False, True) if with_torch_compile else (False,)):
            for bfloat16 in (False, True):
                name = (f"{'torch.compile' if compiled else 'eager'}, "
                        f"{'bfloat16 autocast' if bfloat16 else 'float32'}")
                step, parameters = torch_step(dims, compiled, bfloat16)
                cases[TRANSFORMERS, name] = (step, parameters,
                                             "bfloat16" if bfloat16 else "float32")
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", choices=sorted(DIMS), default="bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--skip-torch-compile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dims = DIMS[args.dims]
    load_before = os.getloadavg()[0]
    peaks = {dtype: matmul_peak_gflops(dtype=dtype) for dtype in ("float32", "bfloat16")}

    notes = []
    with_torch = not args.skip_torch
    if with_torch:
        try:
            import torch
            import transformers

            notes.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
                         f"transformers {transformers.__version__}")
        except ImportError as error:
            with_torch = False
            notes.append(f"{TRANSFORMERS} skipped: {error}")
    cases = contenders(dims, with_torch, not args.skip_torch_compile)
    for step, _, _ in cases.values():  # compile
        for _ in range(WARMUP_STEPS):
            step()
    best = {key: float("inf") for key in cases}
    for _ in range(args.rounds):
        for key, (step, _, _) in cases.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            best[key] = min(best[key], (time.perf_counter() - start) / args.steps)
    for dtype in peaks:  # load varies: the better of before and after
        peaks[dtype] = max(peaks[dtype], matmul_peak_gflops(dtype=dtype))
    load = {"before": load_before, "after": os.getloadavg()[0]}

    rows = []
    for (implementation, path), (_, parameters, dtype) in cases.items():
        tokens_per_second = BATCH * SEQ / best[implementation, path]
        flops = training_flops_per_token(parameters, dims["num_layers"],
                                         dims["hidden_dim"], SEQ)
        rows.append({"implementation": implementation, "path": path,
                     "parameters": parameters, "dtype": dtype,
                     "tokens_per_second": tokens_per_second,
                     "mfu": tokens_per_second * flops / 1e9 / peaks[dtype]})
    precision, xla = auto_path()
    default = f"{precision}, {'XLA' if xla else 'no XLA'}"
    speed = {(r["implementation"], r["path"]): r["tokens_per_second"] for r in rows}
    ours_default = speed[OURS, default]
    best_of = {}
    for r in rows:
        if r["tokens_per_second"] > best_of.get(r["implementation"], (None, 0))[1]:
            best_of[r["implementation"]] = (r["path"], r["tokens_per_second"])
    peers = {k: v for k, v in best_of.items() if k != OURS}
    ratios = {k: ours_default / v[1] for k, v in peers.items()}
    best_peer = max(peers.items(), key=lambda kv: kv[1][1])

    machine = machine_description()
    print(f"{args.dims} dims {dims}, batch {BATCH} x seq {SEQ}, dropout {DROPOUT}, AdamW + clipping; "
          f"best of {args.rounds} rounds x {args.steps} steps")
    print(f"{machine['cpu']}; load average {load['before']:.1f} -> {load['after']:.1f}")
    print("matmul peaks: " + ", ".join(f"{d} {p:.0f} GFLOP/s" for d, p in peaks.items()))
    print(f"{'implementation':20s} {'path':34s} {'tokens/s':>9s} {'MFU':>6s}")
    for r in rows:
        mark = " <- keras-gpt1 default" if (r["implementation"], r["path"]) == (
            OURS, default) else ""
        print(f"{r['implementation']:20s} {r['path']:34s} {r['tokens_per_second']:9,.0f} "
              f"{r['mfu']:6.1%}{mark}")
    for name, (path, tps) in best_of.items():
        print(f"best {name}: {path} ({tps:,.0f} tokens/s)")
    for name, ratio in ratios.items():
        print(f"keras-gpt1 default / best {name}: {ratio:.2f}x")
    print(f"keras-gpt1 default / best of all peers ({best_peer[0]}, {best_peer[1][0]}): "
          f"{ours_default / best_peer[1][1]:.2f}x")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        print(json.dumps({
            "dims_name": args.dims, "dims": dims, "batch": BATCH, "seq_len": SEQ,
            "rounds": args.rounds, "steps": args.steps, "rows": rows,
            "default_path": default, "best_of": best_of, "ratios": ratios,
            "ratio_vs_best_peer": ours_default / best_peer[1][1],
            "matmul_peak_gflops": peaks, "load_average": load, "machine": machine,
            "python": platform.python_version(), "notes": notes}))


if __name__ == "__main__":
    main()
