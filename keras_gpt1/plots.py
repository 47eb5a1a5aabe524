"""Pictures: training curves and the causal attention matrix (matplotlib,
written to PNG without a display)."""

import csv
import os

import numpy as np

from keras_gpt1.errors import GPT1InputError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    from keras_gpt1.artifacts import publishing_file

    with publishing_file(path, replace=True) as work:
        fig.savefig(work, dpi=120, bbox_inches="tight", format="png")


def read_history(path):
    """Rows of a `history.csv` (one per checkpoint interval) as dicts of floats."""
    if not os.path.isfile(path):
        raise GPT1InputError(f"training history not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]
    if not rows:
        raise GPT1InputError(f"training history is empty: {path}")
    return rows


def plot_history(history_path, output_path, title="Training", perplexity=True):
    """Training and validation loss against optimizer steps (and, for a
    language-model loss, perplexity on a second axis) from `history.csv`."""
    rows = read_history(history_path)
    plt = _pyplot()
    x_key = "step" if "step" in rows[0] else "epoch"
    x = [r[x_key] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, [r["loss"] for r in rows], "o-", label="training loss (mean over interval)")
    if "val_loss" in rows[0]:
        ax.plot(x, [r["val_loss"] for r in rows], "s-", label="validation loss")
    ax.set_xlabel("optimizer step" if x_key == "step" else "epoch")
    ax.set_ylabel("cross-entropy (nats / token)" if perplexity else "loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if perplexity:
        right = ax.secondary_yaxis(
            "right", functions=(np.exp, lambda p: np.log(np.maximum(p, 1e-12)))
        )
        right.set_ylabel("perplexity")
    _save(fig, output_path)
    plt.close(fig)
    return output_path


def plot_attention(maps, tokens, output_path, layer, head):
    """Three panels for one head: raw scaled scores `q·kᵀ/√d`, the same
    after the causal mask (future = −∞, blank), and the softmax weights.

    `maps`: dict of `(seq_len, seq_len)` arrays `scores`, `masked`, `weights`.
    """
    plt = _pyplot()
    n = len(tokens)
    fig, axes = plt.subplots(1, 3, figsize=(4.2 * 3, 4.2), constrained_layout=True)
    panels = [
        ("scores", "q·kᵀ / √d  (before the mask)", "coolwarm"),
        ("masked", "causal mask: future → −∞", "coolwarm"),
        ("weights", "softmax: attention weights", "viridis"),
    ]
    for ax, (key, title, cmap) in zip(axes, panels):
        data = np.asarray(maps[key], dtype="float64")
        shown = np.ma.masked_invalid(np.where(np.isinf(data), np.nan, data))
        image = ax.imshow(shown, cmap=cmap, vmin=0.0 if key == "weights" else None,
                          vmax=1.0 if key == "weights" else None)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(n), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(n), tokens, fontsize=7)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(f"layer {layer}, head {head}")
    _save(fig, output_path)
    plt.close(fig)
    return output_path


def token_labels(tokenizer, ids):
    """Readable labels for token ids (byte-level markers shown as spaces)."""
    labels = []
    for i in ids:
        text = tokenizer.detokenize([[int(i)]])
        text = text[0] if isinstance(text, list) else text.numpy()[0]
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        labels.append(text.replace("\n", "\\n") or "∅")
    return labels


def attention_maps(model, token_ids, layer, head):
    """`scores`, `masked`, `weights` `(seq_len, seq_len)` of one head of
    block `layer` for `token_ids` `(seq_len,)`, from the model itself."""
    from keras import ops

    backbone = model.backbone
    if not 0 <= layer < backbone.num_layers:
        raise GPT1InputError(f"layer {layer} out of range [0, {backbone.num_layers})")
    if not 0 <= head < backbone.num_heads:
        raise GPT1InputError(f"head {head} out of range [0, {backbone.num_heads})")
    ids = np.asarray(token_ids, "int32")[None]
    backbone.check_token_ids(ids)
    x = backbone.embed(ids)
    for block in backbone.transformer_layers[:layer]:
        x = block(x)
    maps = backbone.transformer_layers[layer].attn.attention_maps(x)
    return {k: ops.convert_to_numpy(v)[0, head] for k, v in maps.items()}


def check_png_path(path):
    if not path.lower().endswith(".png"):
        raise GPT1InputError(f"output must be a .png file: {path}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise GPT1InputError(f"output directory does not exist: {parent}")


__all__ = ["attention_maps", "plot_attention", "plot_history", "token_labels"]
