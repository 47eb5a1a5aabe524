"""Draw the benchmarks' JSON results as one PNG of charts.

Each input holds the JSON object that a benchmark prints with `--json`, as
its last line (a saved stdout works as is). Panels, for the inputs given:
training tokens/s per implementation (`train_throughput.py`), generation
tokens/s with and without the KV cache and keras-hub's per batch size
(`generation_speed.py`), and training and generation cost against sequence
length (`seq_len_scaling.py`).

    cd benchmarks && mkdir -p results
    python train_throughput.py --json > results/train.json
    python generation_speed.py --json > results/gen.json
    python seq_len_scaling.py --json > results/seq.json
    python plot_benchmarks.py --train results/train.json \\
        --generation results/gen.json --seq-len results/seq.json \\
        --output results/benchmarks.png
"""

import argparse
import json
import math
import os

import numpy as np

PANEL_SIZE = (6.5, 4.2)  # inches


def read_result(path):
    """The JSON object on the last non-empty line of `path`."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"{path}: empty")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}: the last line is not a JSON object ({error})")


def draw_training(ax, result):
    rows = result["rows"]
    bars = ax.bar(range(len(rows)), [r["tokens_per_second"] for r in rows],
                  color=[f"C{i}" for i in range(len(rows))])
    ax.bar_label(bars, labels=[f"{r['tokens_per_second']:,.0f}\nMFU {r['mfu']:.0%}"
                               for r in rows], fontsize=8)
    ax.set_xticks(range(len(rows)), [r["model"].replace(" ", "\n", 1) for r in rows],
                  fontsize=8)
    ax.set_ylabel("training tokens / s")
    d = result["dims"]
    ax.set_title(f"Training, {d['num_layers']} layers x {d['hidden_dim']}, "
                 f"batch {d['batch_size']} x {d['seq_len']}, "
                 f"{result.get('precision', 'float32')}", fontsize=10)
    ax.margins(y=0.2)


def draw_generation(ax, result):
    rows = result["rows"]
    names = list(dict.fromkeys(r["implementation"] for r in rows))
    batch_sizes = sorted({r["batch_size"] for r in rows})
    speed = {(r["implementation"], r["batch_size"]): r["tokens_per_second"] for r in rows}
    width = 0.8 / len(names)
    x = np.arange(len(batch_sizes))
    for i, name in enumerate(names):
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width,
                      [speed[name, b] for b in batch_sizes], width, label=name)
        ax.bar_label(bars, fmt="{:,.0f}", fontsize=8)
    ax.set_xticks(x, [f"batch {b}" for b in batch_sizes])
    ax.set_ylabel("generated tokens / s")
    ax.set_title(f"Generation, prompt {result['prompt_tokens']} + "
                 f"{result['new_tokens']} new tokens, greedy", fontsize=10)
    ax.legend(fontsize=8)
    ax.margins(y=0.15)


def draw_seq_len_training(ax, result):
    rows = result["rows"]
    seq_lens = [r["seq_len"] for r in rows]
    ax.plot(seq_lens, [r["train_ms_per_step"] for r in rows], "o-", color="C0")
    ax.set_ylabel("ms / training step", color="C0")
    right = ax.twinx()
    right.plot(seq_lens, [r["train_tokens_per_second"] for r in rows], "s--", color="C1")
    right.set_ylabel("training tokens / s", color="C1")
    ax.set_xscale("log", base=2)
    ax.set_xticks(seq_lens, [str(t) for t in seq_lens])
    ax.set_xlabel("sequence length")
    ax.set_title(f"Training cost vs sequence length "
                 f"({result['tokens_per_step']:,d} tokens / step)", fontsize=10)
    ax.grid(alpha=0.3)


def draw_seq_len_generation(ax, result):
    rows = result["rows"]
    seq_lens = [r["seq_len"] for r in rows]
    ax.plot(seq_lens, [r["generate_ms_per_token"] for r in rows], "o-",
            label="generate, prefill included")
    ax.plot(seq_lens, [r["decode_ms_per_token"] for r in rows], "s--",
            label="decode only")
    ax.set_xscale("log", base=2)
    ax.set_xticks(seq_lens, [str(t) for t in seq_lens])
    ax.set_xlabel("sequence length T (prompt T/2 + T/2 new tokens)")
    ax.set_ylabel("ms / generated token")
    ax.set_title("Generation cost vs sequence length (batch 1, KV cache)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", help="train_throughput.py --json output")
    parser.add_argument("--generation", help="generation_speed.py --json output")
    parser.add_argument("--seq-len", help="seq_len_scaling.py --json output")
    parser.add_argument("--output", default="benchmarks.png", help="PNG to write")
    args = parser.parse_args()
    panels = []
    if args.train:
        panels.append((draw_training, read_result(args.train)))
    if args.generation:
        panels.append((draw_generation, read_result(args.generation)))
    if args.seq_len:
        seq_len_result = read_result(args.seq_len)
        panels += [(draw_seq_len_training, seq_len_result),
                   (draw_seq_len_generation, seq_len_result)]
    if not panels:
        parser.error("give at least one of --train, --generation, --seq-len")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(len(panels), 2)
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows))
    for ax, (draw, result) in zip(axes.flat, panels):
        draw(ax, result)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(directory, exist_ok=True)
    tmp = args.output + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, args.output)
    plt.close(fig)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
