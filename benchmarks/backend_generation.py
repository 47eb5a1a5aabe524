"""`GPT1CausalLM.generate` tokens/s on each Keras backend: TensorFlow (XLA,
`jit_compile_generate`), JAX (keras-hub's stateless `jax.jit` loop) and
torch (eager, as keras-hub runs it).

The `tiny` preset (4 layers, 256 wide, vocab 8,000, context 128, random
weights); a prompt of 32 random tokens continued by 64 greedy tokens, at
batch 1 and 8. Each backend runs in its own process (the backend is fixed
at import): the processes take turns for `--rounds` rounds, each process
compiles once (untimed) and then times `--repeats` calls; the best time of
each backend and batch counts. Also checks every backend generates the
same tokens as TensorFlow.

    cd benchmarks && python backend_generation.py [--rounds 3] [--json]
"""

import argparse
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
PROMPT_TOKENS = 32
NEW_TOKENS = 64
BATCH_SIZES = (1, 8)


def worker(repeats):
    import keras
    import numpy as np

    import keras_gpt1

    keras.utils.set_random_seed(0)
    model = keras_gpt1.GPT1CausalLM(keras_gpt1.GPT1Backbone.from_preset("tiny"))
    result = {"backend": keras.config.backend(), "rows": {}, "tokens": {}}
    for batch_size in BATCH_SIZES:
        prompts = list(np.random.default_rng(batch_size).integers(
            0, 8000, (batch_size, PROMPT_TOKENS)).astype("int32"))

        def run():
            return model.generate(prompts, max_new_tokens=NEW_TOKENS,
                                  stop_token_ids=None)

        result["tokens"][str(batch_size)] = [list(map(int, r)) for r in run()]
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        result["rows"][str(batch_size)] = best
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.repeats)

    best = {}
    tokens = {}
    here = os.path.dirname(os.path.abspath(__file__))
    for _ in range(args.rounds):
        for backend in BACKENDS:
            env = {**os.environ, "KERAS_BACKEND": backend,
                   "PYTHONPATH": os.path.dirname(here)}
            out = subprocess.run(
                [sys.executable, __file__, "--worker", "--repeats", str(args.repeats)],
                env=env, capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            tokens[backend] = result["tokens"]
            for b, seconds in result["rows"].items():
                best[backend, b] = min(best.get((backend, b), float("inf")), seconds)

    rows = [{"backend": backend, "batch_size": int(b), "seconds": s,
             "tokens_per_second": int(b) * NEW_TOKENS / s}
            for (backend, b), s in sorted(best.items())]
    speed = {(r["backend"], r["batch_size"]): r["tokens_per_second"] for r in rows}
    same = {backend: tokens[backend] == tokens["tensorflow"] for backend in BACKENDS}
    print(f"tiny preset, prompt {PROMPT_TOKENS} + {NEW_TOKENS} greedy tokens; best of "
          f"{args.rounds} rounds x {args.repeats} calls")
    print(f"{'backend':12s} {'batch':>5s} {'tokens/s':>9s} {'vs TF/XLA':>9s} same tokens")
    for r in rows:
        ratio = r["tokens_per_second"] / speed["tensorflow", r["batch_size"]]
        print(f"{r['backend']:12s} {r['batch_size']:5d} {r['tokens_per_second']:9,.0f} "
              f"{ratio:8.2f}x {same[r['backend']]}")
    if args.json:
        print(json.dumps({"prompt_tokens": PROMPT_TOKENS, "new_tokens": NEW_TOKENS,
                          "rounds": args.rounds, "repeats": args.repeats, "rows": rows,
                          "same_tokens_as_tensorflow": same}))


if __name__ == "__main__":
    main()
