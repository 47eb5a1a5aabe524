"""Does pre-training help, and is the fine-tuning learning-rate rule right?
The paper's ablation (Table 5) in miniature, on SST-2 sentiment, on CPU.

1. Pre-train the `tiny` preset (256 wide) for 600 steps on the SST-2
   training phrases as unlabeled text, one phrase per line (seq_len 64,
   batch 32, seed 0; every other setting `keras-gpt1 pretrain`'s default).
   This is the pre-training of the issue's acceptance run; it happens once
   and every fine-tuning below starts from it.
2. Fine-tune on 2,000 labelled training phrases of >= 3 words (a fixed
   sample) with `finetune`'s defaults (3 epochs, batch 32, the default
   precision and XLA choice), max_length 64, in up to three arms:
   (a) pre-trained, with the auxiliary LM loss (λ = 0.5);
   (b) pre-trained, without it (λ = 0);
   (c) no pre-training: the same architecture and tokenizer, weights
       re-initialised (`--reinitialize`), with the auxiliary LM loss.

`--stage select` sweeps the peak learning rate 6.25e-5 · 3**k (3 = 768 /
256, so k is the exponent of the width rule
`hyperparameters.finetune_learning_rate` for `tiny`, whose default is k = 2)
over k in 0, 1, 1.5, 2, 2.5 for arms (a) and (c), fine-tune seed 0, scored
on a fixed 872-row sample (seed 0) of the held-out phrases (`dev.tsv`), never
on the test sentences.

`--stage report` fine-tunes all three arms with the defaults (no learning
rate given: the width rule) under fine-tuning seeds 0, 1, 2 and scores them
on the 872 GLUE dev sentences (`test.tsv` here): accuracy mean ± sample
standard deviation per arm. Pre-training is not repeated per seed.

    python benchmarks/sst2_pretraining_ablation.py [--data ../shared/data/sst2]
        [--work sst2-ablation] [--stage select|report|all] [--json]

The pre-trained model is kept in `WORK/pretrained` and reused by a rerun
(delete it to pre-train again); so is each finished fine-tuning run
(`WORK/runs/*.json`, delete to redo). Each stage prints markdown tables and
writes its raw results to `benchmarks/results/sst2_select.json` or
`benchmarks/results/sst2_ablation.json`.
"""

import argparse
import dataclasses
import datetime
import json
import os
import shlex
import shutil
import statistics
import sys
import time

import numpy as np
from benchmarks_timing import machine_description

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "sst2")
RESULTS = os.path.join(HERE, "results")

# Pre-training: the acceptance run; everything not named is the default.
PRETRAIN = dict(preset="tiny", max_steps=600, seq_len=64, batch_size=32)
PRETRAIN_SEED = 0
# Fine-tuning: the defaults (3 epochs, batch 32, λ 0.5, the width rule, the
# default precision and XLA choice), sequences cut at 64 tokens.
FINETUNE = dict(max_length=64)
FINETUNE_ROWS = 2000
DATA_SEED = 0  # the fine-tuning rows and the dev sample
DEV_SAMPLE_ROWS = 872  # as many as the test sentences

SWEEP_EXPONENTS = (0, 1, 1.5, 2, 2.5)
SELECT_SEED = 0
REPORT_SEEDS = (0, 1, 2)

ARMS = {
    "a": ("pre-trained, aux LM (λ=0.5)", dict(lm_loss_weight=0.5)),
    "b": ("pre-trained, no aux LM (λ=0)", dict(lm_loss_weight=0.0)),
    "c": ("no pre-training (--reinitialize)",
          dict(lm_loss_weight=0.5, reinitialize=True)),
}
SELECT_ARMS = ("a", "c")
REPORT_ARMS = ("a", "b", "c")


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


def sample(rows, n, seed):
    """`n` of `rows` drawn without replacement, in their original order."""
    chosen = np.random.default_rng(seed).choice(len(rows), n, replace=False)
    return [rows[i] for i in sorted(chosen)]


def prepare(data, work):
    """Pre-training corpus, fine-tuning rows, dev sample, test file."""
    train = read_rows(os.path.join(data, "train.tsv"))
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for sentence, _ in train:
            f.write(sentence.strip() + "\n")
    # Phrases of at least 3 words: single words say little about a sentence.
    candidates = [r for r in train if len(r[0].split()) >= 3]
    finetune_file = os.path.join(work, "finetune_train.tsv")
    write_tsv(finetune_file, sample(candidates, FINETUNE_ROWS, DATA_SEED))
    dev_file = os.path.join(work, "dev_sample.tsv")
    write_tsv(dev_file, sample(read_rows(os.path.join(data, "dev.tsv")),
                               DEV_SAMPLE_ROWS, DATA_SEED))
    return corpus, finetune_file, dev_file, os.path.join(data, "test.tsv")


def pretrained_model(corpus, work):
    """`(path, record)` of the pre-trained model, trained on the first call
    and reused after (refused if it was made with other settings)."""
    from keras_gpt1.training.pretrain import PretrainConfig
    from keras_gpt1.training.pretrain import pretrain

    path = os.path.join(work, "pretrained")
    config = PretrainConfig(corpus=[corpus], output=path, seed=PRETRAIN_SEED,
                            verbose=2, **PRETRAIN)
    settings = dataclasses.asdict(config.resolved())
    for transient in ("corpus", "output", "verbose"):
        settings.pop(transient)
    record_file = os.path.join(work, "pretrained.json")
    if os.path.exists(path):
        with open(record_file, encoding="utf-8") as f:
            record = json.load(f)
        if record["settings"] != settings:
            sys.exit(f"{path} was pre-trained with other settings; delete it")
        print(f"pre-training: reusing {path}", file=sys.stderr)
        return path, record
    start = time.time()
    summary = pretrain(config)
    record = {
        "settings": settings,
        "val_perplexity": summary["val_perplexity"],
        "initial_val_perplexity": summary["initial_val_perplexity"],
        "val_loss": summary["val_loss"],
        "steps": summary["steps"],
        "precision": summary["precision"],
        "jit_compile": summary["jit_compile"],
        "seconds": time.time() - start,
    }
    with open(record_file, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    print(f"pre-training: validation perplexity {record['initial_val_perplexity']:.1f}"
          f" -> {record['val_perplexity']:.1f} in {record['seconds']:.0f} s",
          file=sys.stderr)
    return path, record


def sweep_rate(k, hidden_dim):
    """The paper's rate scaled by (768 / width) ** k: the rule at exponent k."""
    from keras_gpt1 import hyperparameters as paper

    return paper.FINETUNE_LEARNING_RATE * (
        paper.FINETUNE_REFERENCE_WIDTH / hidden_dim) ** k


def fine_tune(name, pretrained, work, train, validation, arm, seed,
              learning_rate=None):
    """One fine-tuning run scored on `validation`: a result row. A row
    saved by an earlier run with the same settings is reused."""
    from keras_gpt1.training.finetune import FinetuneConfig
    from keras_gpt1.training.finetune import finetune

    runs = os.path.join(work, "runs")
    os.makedirs(runs, exist_ok=True)
    output, row_file = os.path.join(runs, name), os.path.join(runs, name + ".json")
    arm_name, overrides = ARMS[arm]
    config = FinetuneConfig(
        model=pretrained, task="classification", train=train,
        validation=validation, output=output, seed=seed,
        learning_rate=learning_rate, verbose=2, **FINETUNE, **overrides)
    settings = dataclasses.asdict(config)
    if os.path.exists(row_file):
        with open(row_file, encoding="utf-8") as f:
            row = json.load(f)
        if row["settings"] == settings:
            print(f"{name}: reusing {row_file}", file=sys.stderr)
            return row
    if os.path.exists(output):
        shutil.rmtree(output)
    start = time.time()
    summary = finetune(config)
    row = {
        "arm": arm,
        "arm_name": arm_name,
        "seed": seed,
        "learning_rate": summary["learning_rate"],
        "learning_rate_source": summary["learning_rate_source"],
        "accuracy": summary["val_accuracy"],
        "f1": summary["val_f1"],
        "matthews_correlation": summary["val_matthews_correlation"],
        "majority_class_accuracy": summary.get("val_majority_class_accuracy"),
        "steps": summary["steps"],
        "seconds": time.time() - start,
        "train_seconds": summary["seconds"],
        "train_loss": summary["train_loss"],
        "precision": summary["precision"],
        "jit_compile": summary["jit_compile"],
        "validation_examples": summary["validation_examples"],
        "settings": settings,
    }
    with open(row_file, "w", encoding="utf-8") as f:
        json.dump(row, f, indent=2)
    print(f"{name}: {arm_name} at {row['learning_rate']:g} "
          f"({row['learning_rate_source']}), seed {seed}: accuracy "
          f"{row['accuracy']:.4f} in {row['seconds']:.0f} s", file=sys.stderr)
    return row


def run_table(rows, first=("k",)):
    """Markdown: one line per fine-tuning run."""
    head = " | ".join(first)
    lines = [f"| arm | {head} | learning rate | accuracy | F1 | MCC | steps | seconds |",
             "| --- " * (7 + len(first)) + "|"]
    for r in rows:
        cells = " | ".join(f"{r[c]:g}" for c in first)
        lines.append(
            f"| ({r['arm']}) {r['arm_name']} | {cells} | {r['learning_rate']:.3g} | "
            f"{100 * r['accuracy']:.1f} | {100 * r['f1']:.1f} | "
            f"{r['matthews_correlation']:.3f} | {r['steps']} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def select(context):
    """The learning-rate sweep on the dev sample: rows, best k per arm."""
    rows = []
    for k in SWEEP_EXPONENTS:
        rate = sweep_rate(k, context["hidden_dim"])
        for arm in SELECT_ARMS:
            row = fine_tune(f"select-{arm}-k{k:g}-seed{SELECT_SEED}",
                            context["pretrained"], context["work"],
                            context["finetune_file"], context["dev_file"], arm,
                            SELECT_SEED, rate)
            rows.append({**row, "k": k})
    best = {arm: max((r for r in rows if r["arm"] == arm),
                     key=lambda r: r["accuracy"])["k"] for arm in SELECT_ARMS}
    print(f"\n### Learning-rate sweep: {len(rows) // len(SELECT_ARMS)} rates x "
          f"{len(SELECT_ARMS)} arms, fine-tune seed {SELECT_SEED}, scored on "
          f"{DEV_SAMPLE_ROWS} held-out phrases (dev.tsv sample)\n")
    print(run_table(rows))
    print("\n| k | learning rate | " + " | ".join(
        f"({arm}) accuracy" for arm in SELECT_ARMS) + " |")
    print("| --- " * (2 + len(SELECT_ARMS)) + "|")
    for k in SWEEP_EXPONENTS:
        cells = []
        for arm in SELECT_ARMS:
            (r,) = [r for r in rows if r["arm"] == arm and r["k"] == k]
            mark = " **best**" if best[arm] == k else ""
            cells.append(f"{100 * r['accuracy']:.1f}{mark}")
        print(f"| {k:g} | {sweep_rate(k, context['hidden_dim']):.3g} | "
              + " | ".join(cells) + " |")
    print()
    for arm in SELECT_ARMS:
        print(f"best k for ({arm}) {ARMS[arm][0]}: {best[arm]:g} "
              f"(learning rate {sweep_rate(best[arm], context['hidden_dim']):.3g}); "
              f"the rule uses k = 2")
    return {"stage": "select", "validation": f"{DEV_SAMPLE_ROWS}-row sample "
            f"(seed {DATA_SEED}) of dev.tsv", "exponents": list(SWEEP_EXPONENTS),
            "seed": SELECT_SEED, "best_k": best, "runs": rows}


def report(context):
    """The ablation with the defaults on the test sentences, three seeds."""
    rows = []
    for arm in REPORT_ARMS:
        for seed in REPORT_SEEDS:
            rows.append(fine_tune(f"report-{arm}-rule-seed{seed}",
                                  context["pretrained"], context["work"],
                                  context["finetune_file"], context["test_file"],
                                  arm, seed))
    arms = {}
    for arm in REPORT_ARMS:
        accuracies = [r["accuracy"] for r in rows if r["arm"] == arm]
        arms[arm] = {
            "name": ARMS[arm][0],
            "accuracies": accuracies,
            "mean_accuracy": statistics.mean(accuracies),
            "sd_accuracy": statistics.stdev(accuracies),
            "mean_f1": statistics.mean(r["f1"] for r in rows if r["arm"] == arm),
            "mean_matthews_correlation": statistics.mean(
                r["matthews_correlation"] for r in rows if r["arm"] == arm),
        }
    print(f"\n### Ablation: fine-tuning defaults (learning rate by the width rule, "
          f"{rows[0]['learning_rate']:.3g}), fine-tune seeds "
          f"{', '.join(map(str, REPORT_SEEDS))}, one pre-training (seed "
          f"{PRETRAIN_SEED}), scored on the 872 SST-2 test sentences (GLUE dev)\n")
    print(run_table(rows, first=("seed",)))
    print("\n| fine-tuning | accuracy, mean ± sd | "
          + " | ".join(f"seed {s}" for s in REPORT_SEEDS) + " | F1 | MCC |")
    print("| --- " * (4 + len(REPORT_SEEDS)) + "|")
    for arm, a in arms.items():
        print(f"| ({arm}) {a['name']} | {100 * a['mean_accuracy']:.1f} ± "
              f"{100 * a['sd_accuracy']:.1f} | "
              + " | ".join(f"{100 * x:.1f}" for x in a["accuracies"])
              + f" | {100 * a['mean_f1']:.1f} | {a['mean_matthews_correlation']:.3f} |")
    gain = arms["a"]["mean_accuracy"] - arms["c"]["mean_accuracy"]
    print(f"\n(a) - (c): {100 * gain:+.1f} points of accuracy "
          f"(sd is the sample standard deviation over {len(REPORT_SEEDS)} seeds)")
    return {"stage": "report", "validation": "test.tsv (872 GLUE dev sentences)",
            "seeds": list(REPORT_SEEDS), "arms": arms,
            "a_minus_c_accuracy": gain, "runs": rows}


def write_results(name, result, context, args, started):
    os.makedirs(RESULTS, exist_ok=True)
    record = {
        "command": "python " + shlex.join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "machine": {**machine_description(), "load_average": list(os.getloadavg()),
                    "load_average_at_start": context["load_at_start"]},
        "settings": {
            "pretrain": context["pretrain"]["settings"],
            "finetune": {**FINETUNE, "defaults": "FinetuneConfig's (3 epochs, "
                         "batch 32, precision/XLA auto)"},
            "finetune_rows": FINETUNE_ROWS,
            "finetune_rows_rule": f">= 3 words, sample seed {DATA_SEED}",
            "arms": {arm: {"name": n, **o} for arm, (n, o) in ARMS.items()},
        },
        "pretrain": {k: v for k, v in context["pretrain"].items() if k != "settings"},
        "pretrain_val_perplexity": context["pretrain"]["val_perplexity"],
        **result,
        "stage_seconds": time.time() - started,
    }
    path = os.path.join(RESULTS, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, ensure_ascii=False)
    print(f"\nwrote {os.path.relpath(path)}")
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default="sst2-ablation")
    parser.add_argument("--stage", choices=("select", "report", "all"), default="all")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from keras_gpt1.models.gpt1_presets import preset_config

    start = time.time()
    load_at_start = list(os.getloadavg())
    os.makedirs(args.work, exist_ok=True)
    corpus, finetune_file, dev_file, test_file = prepare(args.data, args.work)
    pretrained, pretrain_record = pretrained_model(corpus, args.work)
    print(f"pre-training validation perplexity: {pretrain_record['val_perplexity']:.1f}")
    context = dict(work=args.work, pretrained=pretrained, pretrain=pretrain_record,
                   finetune_file=finetune_file, dev_file=dev_file, test_file=test_file,
                   hidden_dim=preset_config(PRETRAIN["preset"])["hidden_dim"],
                   load_at_start=load_at_start)
    records = {}
    if args.stage in ("select", "all"):
        started = time.time()
        records["select"] = write_results("sst2_select.json", select(context),
                                          context, args, started)
    if args.stage in ("report", "all"):
        started = time.time()
        records["report"] = write_results("sst2_ablation.json", report(context),
                                          context, args, started)
    print(f"\ntotal: {time.time() - start:.0f} s")
    return records


if __name__ == "__main__":
    main()
