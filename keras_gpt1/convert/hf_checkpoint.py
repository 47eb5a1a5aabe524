"""Read a Hugging Face `openai-gpt` checkpoint: `config.json` +
`model.safetensors` (or a sharded `model.safetensors.index.json`).

Tensor names are those of `weight_table` with or without the
`transformer.` prefix. Hugging Face's `Conv1D` stores `(in, out)`, the
Keras layout, so nothing is transposed. `lm_head.weight` is the tied token
embedding: it is checked equal and not imported. Old checkpoints also hold
each block's causal-mask buffer (`h.N.attn.bias`, `h.N.attn.masked_bias`);
it is a constant, so it is skipped. Pickled checkpoints
(`pytorch_model.bin` and the like) are refused, never unpickled.
"""

import json
import os
import re

import numpy as np

from keras_gpt1.artifacts import read_json
from keras_gpt1.convert.weight_table import Architecture
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
MODEL_TYPE = "openai-gpt"
PREFIX = "transformer."
TIED_HEAD = "lm_head.weight"
MASK_BUFFER_RE = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
BLOCK_RE = re.compile(r"^h\.(\d+)\.")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# `afn` values whose function is GPT-1's tanh-approximated GELU.
GELU_NAMES = ("gelu", "gelu_new")
REQUIRED_KEYS = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")
HOW_TO_CONVERT = (
    "load it with transformers and save it as safetensors: "
    "OpenAIGPTLMHeadModel.from_pretrained(DIR).save_pretrained(OUT, "
    "safe_serialization=True), then convert OUT"
)


def refuse_pickle(path):
    raise GPT1InputError(
        f"{os.path.basename(path)} is a pickle, which is never loaded "
        f"(it can run code); {HOW_TO_CONVERT}"
    )


def read_config(directory):
    path = os.path.join(directory, CONFIG_FILE)
    config = read_json(path, f"{CONFIG_FILE} not found in {directory}")
    if not isinstance(config, dict):
        raise GPT1InputError(f"{path} must hold a JSON object")
    model_type = config.get("model_type", MODEL_TYPE)
    if model_type != MODEL_TYPE:
        raise GPT1InputError(
            f"{CONFIG_FILE} is for a '{model_type}' model, not '{MODEL_TYPE}'"
        )
    for key in REQUIRED_KEYS:
        if not isinstance(config.get(key), int) or config[key] < 1:
            raise GPT1InputError(f"{CONFIG_FILE} lacks a positive integer '{key}'")
    afn = config.get("afn", "gelu")
    if afn not in GELU_NAMES:
        raise GPT1InputError(
            f"{CONFIG_FILE} has afn '{afn}'; GPT-1 uses 'gelu' (tanh approximation)"
        )
    return config


def weight_files(directory):
    """Safetensors files of the checkpoint; refuses pickles."""
    single = os.path.join(directory, WEIGHTS_FILE)
    index = os.path.join(directory, INDEX_FILE)
    if os.path.isfile(single):
        return [single]
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                weight_map = json.load(f)["weight_map"]
        except (ValueError, KeyError, TypeError) as e:
            raise GPT1InputError(f"{INDEX_FILE} is not a safetensors index: {e}") from None
        return [os.path.join(directory, f) for f in sorted(set(weight_map.values()))]
    pickles = sorted(f for f in os.listdir(directory) if f.endswith(PICKLE_SUFFIXES))
    if pickles:
        refuse_pickle(pickles[0])
    raise GPT1InputError(f"no {WEIGHTS_FILE} in {directory}")


def read_tensors(paths):
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    tensors = {}
    for path in paths:
        if not os.path.isfile(path):
            raise GPT1InputError(f"weights file not found: {path}")
        try:
            tensors.update(load_file(path))
        except (SafetensorError, OSError, ValueError, TypeError) as e:
            raise GPT1InputError(
                f"could not read {os.path.basename(path)}: {first_line(e)}"
            ) from None
    return tensors


def read_hf_checkpoint(directory, num_heads=None):
    """`(weights, architecture)` from a Hugging Face `openai-gpt` directory.

    `num_heads`, if given, must agree with `config.json`'s `n_head`.
    `weights` maps `weight_table` names to float32 arrays in Keras layout.
    """
    if os.path.isfile(directory) and directory.endswith(PICKLE_SUFFIXES):
        refuse_pickle(directory)
    if not os.path.isdir(directory):
        raise GPT1InputError(f"not a directory: {directory}")
    config = read_config(directory)
    if num_heads is not None and num_heads != config["n_head"]:
        raise GPT1InputError(
            f"{CONFIG_FILE} has n_head={config['n_head']} but "
            f"{num_heads} heads were asked for"
        )
    weights, tied_head = {}, None
    for key, value in read_tensors(weight_files(directory)).items():
        name = key[len(PREFIX):] if key.startswith(PREFIX) else key
        if MASK_BUFFER_RE.match(name):
            continue
        if not np.issubdtype(value.dtype, np.floating):
            raise GPT1InputError(f"{key} holds {value.dtype}, not floats")
        if name == TIED_HEAD:
            tied_head = value
            continue
        weights[name] = value.astype(np.float32, copy=False)

    tokens = weights.get("tokens_embed.weight")
    if tokens is None:
        raise GPT1InputError(f"{WEIGHTS_FILE}: missing tensor {PREFIX}tokens_embed.weight")
    if tied_head is not None and not np.array_equal(tied_head, tokens):
        raise GPT1InputError(
            f"{TIED_HEAD} differs from {PREFIX}tokens_embed.weight; GPT-1 ties them"
        )
    expected = (config["vocab_size"], config["n_embd"])
    if tuple(tokens.shape) != expected:
        raise GPT1InputError(
            f"{CONFIG_FILE} (vocab_size, n_embd) = {list(expected)} does not "
            f"match tokens_embed.weight {list(tokens.shape)}"
        )
    layers = {int(m.group(1)) for m in map(BLOCK_RE.match, weights) if m}
    if layers != set(range(config["n_layer"])):
        raise GPT1InputError(
            f"{CONFIG_FILE} has n_layer={config['n_layer']} but the weights "
            f"have {len(layers)} blocks"
        )
    c_fc = weights.get("h.0.mlp.c_fc.weight")
    architecture = Architecture(
        vocabulary_size=config["vocab_size"],
        num_layers=config["n_layer"],
        num_heads=config["n_head"],
        hidden_dim=config["n_embd"],
        # GPT-1's MLP is 4x wide; read it from the weights all the same.
        intermediate_dim=int(c_fc.shape[-1]) if c_fc is not None else 4 * config["n_embd"],
        max_sequence_length=config["n_positions"],
        layer_norm_epsilon=float(config.get("layer_norm_epsilon", 1e-5)),
    )
    return weights, architecture
