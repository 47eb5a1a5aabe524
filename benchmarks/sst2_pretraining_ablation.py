"""Does pre-training help? The paper's ablation (Table 5) in miniature, on
SST-2 sentiment, on CPU.

1. Pre-train the `tiny` preset on the SST-2 training phrases as unlabeled
   text (`keras_gpt1.training.pretrain`).
2. Fine-tune three ways on a few thousand labelled training phrases
   (`keras_gpt1.training.finetune`), same recipe and seed:
   (a) pre-trained, with the auxiliary LM loss (λ = 0.5);
   (b) pre-trained, without it (λ = 0);
   (c) no pre-training: the same architecture and tokenizer, weights
       re-initialised (`--reinitialize`), with the auxiliary LM loss.
3. Score each on the 872 GLUE dev sentences (`test.tsv` here).

    python benchmarks/sst2_pretraining_ablation.py [--data ../shared/data/sst2]
        [--work sst2-ablation] [--learning-rates 5e-4] [--json]

The pre-trained model is kept in `WORK/pretrained` and reused by a rerun
(delete it to pre-train again). The table goes to stdout and
`WORK/results.json`.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "sst2")

# The recipe, tuned for about 20 minutes on 2 CPU cores.
PRETRAIN = dict(
    preset="tiny",
    seq_len=64,
    batch_size=32,
    max_steps=1200,
    learning_rate=2.5e-4,  # the paper's; 1e-3 stalls at the unigram loss
    warmup_steps=120,
    vocab_size=4000,
    checkpoint_every=300,
)
FINETUNE = dict(
    epochs=3,
    batch_size=32,
    # 8x the paper's 6.25e-5: a tiny model and ~190 updates. It is also the
    # best of 2.5e-4 / 5e-4 / 1e-3 for the model without pre-training, so
    # the ablation does not starve that arm (see --learning-rates).
    learning_rate=5e-4,
    max_length=64,
    jit_compile=False,  # on 2 CPU cores, 0.6 s/step without XLA, 1.0 with
)
FINETUNE_ROWS = 2000
SEED = 0

ARMS = (
    ("pre-trained, aux LM (λ=0.5)", dict(lm_loss_weight=0.5)),
    ("pre-trained, no aux LM (λ=0)", dict(lm_loss_weight=0.0)),
    ("no pre-training (--reinitialize)", dict(lm_loss_weight=0.5, reinitialize=True)),
)


def read_rows(path):
    """(sentence, label) pairs of a `sentence<TAB>label` file with a header."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines if line.strip()]


def write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("sentence\tlabel\n")
        for sentence, label in rows:
            f.write(f"{sentence}\t{label}\n")


def prepare(data, work):
    """Pre-training corpus, fine-tuning subset, evaluation file."""
    train = read_rows(os.path.join(data, "train.tsv"))
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for sentence, _ in train:
            f.write(sentence.strip() + "\n")
    rng = np.random.default_rng(SEED)
    # Phrases of at least 3 words: single words say little about a sentence.
    candidates = [r for r in train if len(r[0].split()) >= 3]
    chosen = rng.choice(len(candidates), FINETUNE_ROWS, replace=False)
    finetune_file = os.path.join(work, "finetune_train.tsv")
    write_tsv(finetune_file, [candidates[i] for i in sorted(chosen)])
    return corpus, finetune_file, os.path.join(data, "test.tsv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default="sst2-ablation")
    parser.add_argument("--learning-rates", type=float, nargs="+",
                        default=[FINETUNE["learning_rate"]],
                        help="fine-tune every arm at each of these rates")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from keras_gpt1.training.finetune import FinetuneConfig
    from keras_gpt1.training.finetune import finetune
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    os.makedirs(args.work, exist_ok=True)
    corpus, finetune_file, test_file = prepare(args.data, args.work)
    pretrained = os.path.join(args.work, "pretrained")
    timings = {}
    start = time.time()
    if not os.path.exists(pretrained):
        summary = pretrain(PretrainConfig(corpus=[corpus], output=pretrained,
                                          seed=SEED, verbose=2, **PRETRAIN))
        timings["pretrain_seconds"] = time.time() - start
        timings["pretrain_val_perplexity"] = summary["val_perplexity"]
        print(f"pre-training: validation perplexity "
              f"{summary['initial_val_perplexity']:.1f} -> "
              f"{summary['val_perplexity']:.1f} in {timings['pretrain_seconds']:.0f} s",
              file=sys.stderr)

    results = []
    for learning_rate in args.learning_rates:
        for name, overrides in ARMS:
            output = os.path.join(args.work, f"finetuned-{len(results)}")
            if os.path.exists(output):
                import shutil

                shutil.rmtree(output)
            t = time.time()
            summary = finetune(FinetuneConfig(
                model=pretrained, task="classification", train=finetune_file,
                validation=test_file, output=output, seed=SEED, verbose=2,
                **{**FINETUNE, "learning_rate": learning_rate, **overrides},
            ))
            results.append({
                "arm": name,
                "learning_rate": learning_rate,
                "accuracy": summary["val_accuracy"],
                "f1": summary["val_f1"],
                "matthews_correlation": summary["val_matthews_correlation"],
                "steps": summary["steps"],
                "seconds": time.time() - t,
            })
            print(f"{name} at {learning_rate:g}: accuracy "
                  f"{summary['val_accuracy']:.4f}", file=sys.stderr)
    timings["total_seconds"] = time.time() - start

    print("| fine-tuning | learning rate | SST-2 dev accuracy | F1 | MCC | steps "
          "| seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['arm']} | {r['learning_rate']:g} | {100 * r['accuracy']:.1f} | "
              f"{100 * r['f1']:.1f} | {r['matthews_correlation']:.3f} | {r['steps']} "
              f"| {r['seconds']:.0f} |")
    report = {"results": results, "pretrain": PRETRAIN, "finetune": FINETUNE,
              "finetune_rows": FINETUNE_ROWS, **timings}
    with open(os.path.join(args.work, "results.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
