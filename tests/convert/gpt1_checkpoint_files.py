"""Tiny GPT-1 checkpoints written the way OpenAI and Hugging Face lay them
out, from weights the tests make (no download, nothing from ../shared).

The layouts are spelled out here independently of `keras_gpt1.convert`:
the original release order comes from `finetune-transformer-lm/train.py`.
"""

import json
import os

import numpy as np
from safetensors.numpy import save_file

# A GPT-1 shaped like the real one, only tiny.
TINY = dict(n_positions=16, n_embd=32, n_layer=2, n_head=2)

# One block's tensors in the original release's order (Hugging Face names).
ORIGINAL_BLOCK_ORDER = (
    "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias",
    "ln_1.weight", "ln_1.bias",
    "mlp.c_fc.weight", "mlp.c_fc.bias",
    "mlp.c_proj.weight", "mlp.c_proj.bias",
    "ln_2.weight", "ln_2.bias",
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tiny_tokenizer_files():
    """A hand-made `</w>` BPE: `(vocab dict, merges list)`.

    Letters and a little punctuation, each also as a word end, and merges
    that build "the", "and", "he", "cat".
    """
    symbols = ["<unk>"] + list(LETTERS) + [c + "</w>" for c in LETTERS]
    symbols += [".</w>", ",</w>", "!</w>"]
    merges = ["t h", "th e</w>", "a n", "an d</w>", "h e</w>", "c a", "ca t</w>"]
    for merge in merges:
        symbols.append(merge.replace(" ", ""))
    return {s: i for i, s in enumerate(symbols)}, merges


def write_tokenizer_files(directory, vocab_name="vocab.json", merges_name="merges.txt"):
    vocab, merges = tiny_tokenizer_files()
    with open(os.path.join(directory, vocab_name), "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    with open(os.path.join(directory, merges_name), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return vocab, merges


def tiny_vocabulary_size():
    return len(tiny_tokenizer_files()[0])


def random_hf_weights(vocab_size, n_positions, n_embd, n_layer, seed=0, **_):
    """`{transformer.* name: float32 array}` with every tensor random (norm
    gains around 1, so the model is far from its initialisation)."""
    rng = np.random.default_rng(seed)
    d, f = n_embd, 4 * n_embd

    def normal(*shape, mean=0.0, std=0.2):
        return (mean + std * rng.standard_normal(shape)).astype(np.float32)

    weights = {
        "tokens_embed.weight": normal(vocab_size, d),
        "positions_embed.weight": normal(n_positions, d),
    }
    for i in range(n_layer):
        shapes = {
            "attn.c_attn.weight": (d, 3 * d), "attn.c_attn.bias": (3 * d,),
            "attn.c_proj.weight": (d, d), "attn.c_proj.bias": (d,),
            "mlp.c_fc.weight": (d, f), "mlp.c_fc.bias": (f,),
            "mlp.c_proj.weight": (f, d), "mlp.c_proj.bias": (d,),
        }
        for name, shape in shapes.items():
            weights[f"h.{i}.{name}"] = normal(*shape)
        for norm in ("ln_1", "ln_2"):
            weights[f"h.{i}.{norm}.weight"] = normal(d, mean=1.0, std=0.1)
            weights[f"h.{i}.{norm}.bias"] = normal(d, std=0.1)
    return {"transformer." + k: v for k, v in weights.items()}


def hf_config(vocab_size, n_positions, n_embd, n_layer, n_head, **extra):
    return {
        "model_type": "openai-gpt", "architectures": ["OpenAIGPTLMHeadModel"],
        "vocab_size": vocab_size, "n_positions": n_positions, "n_embd": n_embd,
        "n_layer": n_layer, "n_head": n_head, "afn": "gelu",
        "layer_norm_epsilon": 1e-5, **extra,
    }


def write_hf_checkpoint(directory, weights, config, tokenizer=True):
    """`config.json` + `model.safetensors` (+ `vocab.json`, `merges.txt`)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
              os.path.join(directory, "model.safetensors"))
    if tokenizer:
        write_tokenizer_files(directory)
    return str(directory)


def write_openai_release(directory, weights, n_layer, tokenizer=True):
    """`params_shapes.json` + `params_0.npy ... params_9.npy` as OpenAI
    released them: positions, tokens, then each block's 12 tensors with
    kernels as `(1, in, out)`; one flat float32 array cut into 10 shards."""
    os.makedirs(directory, exist_ok=True)
    plain = {k.removeprefix("transformer."): v for k, v in weights.items()}
    tensors = [plain["positions_embed.weight"], plain["tokens_embed.weight"]]
    for i in range(n_layer):
        for name in ORIGINAL_BLOCK_ORDER:
            value = plain[f"h.{i}.{name}"]
            tensors.append(value[None] if value.ndim == 2 else value)
    with open(os.path.join(directory, "params_shapes.json"), "w") as f:
        json.dump([list(t.shape) for t in tensors], f)
    flat = np.concatenate([t.reshape(-1) for t in tensors]).astype(np.float32)
    for i, shard in enumerate(np.array_split(flat, 10)):
        np.save(os.path.join(directory, f"params_{i}.npy"), shard)
    if tokenizer:
        write_tokenizer_files(directory, "encoder_bpe_40000.json", "vocab_40000.bpe")
    return str(directory)


def tiny_checkpoint_weights(seed=0):
    config = hf_config(vocab_size=tiny_vocabulary_size(), **TINY)
    return random_hf_weights(**config, seed=seed), config
