"""What each speed lever of keras-gpt1's default training path is worth on
this CPU: the default path (`pretrain --precision auto`) against the same
path with one lever taken away, alternating in one process, best round.

Levers measured:
- `head in float32`: the tied LM head as Keras's ReversibleEmbedding runs
  it inside a mixed-precision model (float32), instead of bfloat16;
- `Keras AdamW`: Keras's elementwise AdamW update instead of GPT1AdamW's
  fused `ResourceApplyAdam` per variable;
- `dropout 0`: no dropout at all (not a lever: the most that cheaper
  dropout masks could save).

    cd benchmarks && python training_levers.py [--dims bench|gpt1_width]
        [--rounds 4] [--steps 8] [--json]

Same dims, batch, optimizer settings and data as `train_throughput.py`.
Thread pools are a setting of the process, so they are measured by running
this script under `TF_NUM_INTEROP_THREADS=1` (`--json` records it).
"""

import argparse
import json
import os
import time

import keras
from benchmarks_timing import machine_description
from train_throughput import BATCH
from train_throughput import CLIPNORM
from train_throughput import DIMS
from train_throughput import DROPOUT
from train_throughput import LEARNING_RATE
from train_throughput import SEQ
from train_throughput import WARMUP_STEPS
from train_throughput import WEIGHT_DECAY
from train_throughput import auto_path
from train_throughput import token_batch

import keras_gpt1
from keras_gpt1.optimizers import make_optimizer

DEFAULT = "default path"
LEVERS = {
    DEFAULT: {},
    "head in float32": {"float32_head": True},
    "Keras AdamW (not fused)": {"fused": False},
    "dropout 0 (bound)": {"dropout": 0.0},
}


def step(dims, precision, xla, float32_head=False, fused=True, dropout=DROPOUT):
    keras.utils.set_random_seed(0)
    backbone = keras_gpt1.GPT1Backbone(max_sequence_length=SEQ, dropout=dropout,
                                       dtype=precision, **dims)
    if float32_head:
        backbone.token_embedding.reverse_dtype = None
    model = keras_gpt1.GPT1CausalLM(backbone)
    optimizer = make_optimizer(LEARNING_RATE, WEIGHT_DECAY, CLIPNORM)
    optimizer.fused = fused
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[], jit_compile=xla)
    x, y = token_batch(dims["vocabulary_size"])
    run = lambda: keras.Model.train_on_batch(model, x, y)  # noqa: E731
    for _ in range(WARMUP_STEPS):
        run()
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", choices=sorted(DIMS), default="bench")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    precision, xla = auto_path()
    dims = DIMS[args.dims]
    steps = {name: step(dims, precision, xla, **lever) for name, lever in LEVERS.items()}
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(args.rounds):
        for name, run in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                run()
            best[name] = min(best[name], (time.perf_counter() - start) / args.steps)
    tokens = BATCH * SEQ
    print(f"{args.dims} dims, default path {precision}, XLA {'on' if xla else 'off'}, "
          f"TF_NUM_INTEROP_THREADS={os.environ.get('TF_NUM_INTEROP_THREADS', 'default')}")
    print("| variant | ms/step | tokens/s | default path's speed-up from the lever |")
    print("|---|--:|--:|--:|")
    for name, seconds in best.items():
        gain = best[name] / best[DEFAULT]
        print(f"| {name} | {1000 * seconds:.1f} | {tokens / seconds:,.0f} | "
              f"{'-' if name == DEFAULT else f'{gain:.2f}x'} |")
    if args.json:
        print(json.dumps({
            "dims": args.dims, "precision": precision, "xla": xla,
            "interop_threads": os.environ.get("TF_NUM_INTEROP_THREADS", "default"),
            "ms_per_step": {k: 1000 * v for k, v in best.items()},
            "tokens_per_second": {k: tokens / v for k, v in best.items()},
            "machine": machine_description()}))


if __name__ == "__main__":
    main()
