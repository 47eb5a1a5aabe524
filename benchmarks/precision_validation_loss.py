"""Does the default training path learn as well as float32? Validation loss
after 300 steps on Tiny Shakespeare, float32 with XLA against the path
`--precision auto` picks on this machine (mixed_bfloat16 without XLA on a
CPU with bfloat16 instructions), same seed, same data, side by side.

    python benchmarks/precision_validation_loss.py [--corpus ../shared/data/tinyshakespeare/input.txt]
        [--work precision-val] [--steps 300]

The `tiny` preset, the first 400 kB of the corpus, batch 16 x 128,
vocabulary 2,000, learning rate 1e-3. Prints both losses and their
difference (goal: within 0.01); raw JSON to
`benchmarks/results/precision_validation_loss.json`.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import time

from benchmarks_timing import machine_description

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare",
                              "input.txt")
RESULT = os.path.join(HERE, "results", "precision_validation_loss.json")
CORPUS_BYTES = 400_000
GOAL = 0.01


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--work", default="precision-val")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)

    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    os.makedirs(args.work, exist_ok=True)
    corpus = os.path.join(args.work, "corpus.txt")
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read(CORPUS_BYTES)
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(text)
    # float32 + XLA, then the default (`auto`: what a user gets).
    paths = [("float32", True), ("auto", None)]
    runs = []
    for precision, xla in paths:
        output = os.path.join(args.work, precision)
        shutil.rmtree(output, ignore_errors=True)
        start = time.time()
        summary = pretrain(PretrainConfig(
            corpus=[corpus], output=output, preset="tiny", max_steps=args.steps,
            seq_len=128, batch_size=16, vocab_size=2000, learning_rate=1e-3,
            checkpoint_every=50, precision=precision, jit_compile=xla, seed=0,
            verbose=0))
        precision, xla = summary["precision"], summary["jit_compile"]
        runs.append({"precision": precision, "xla": xla,
                     "initial_val_loss": summary["initial_val_loss"],
                     "val_loss": summary["val_loss"],
                     "tokens_per_second": summary.get("tokens_per_second"),
                     "seconds": time.time() - start})
        print(f"{precision} XLA {'on' if xla else 'off'}: validation loss "
              f"{summary['initial_val_loss']:.4f} -> {summary['val_loss']:.4f}",
              file=sys.stderr)
    difference = runs[1]["val_loss"] - runs[0]["val_loss"]
    print("| precision | XLA | validation loss, start -> end | tokens/s |")
    print("|---|---|--:|--:|")
    for r in runs:
        tps = f"{r['tokens_per_second']:,.0f}" if r["tokens_per_second"] else "-"
        print(f"| {r['precision']} | {'on' if r['xla'] else 'off'} | "
              f"{r['initial_val_loss']:.4f} -> {r['val_loss']:.4f} | {tps} |")
    print(f"default path - float32: {difference:+.4f} (goal: within {GOAL})")
    report = {"command": " ".join(sys.argv), "date": datetime.date.today().isoformat(),
              "steps": args.steps, "corpus_bytes": CORPUS_BYTES, "runs": runs,
              "difference": difference, "within_goal": abs(difference) <= GOAL,
              "machine": machine_description()}
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
