"""Hugging Face's `openai-gpt` checkpoint format, both ways: read
`config.json` + `model.safetensors` (or a sharded
`model.safetensors.index.json`), and write a directory that
`transformers.OpenAIGPTLMHeadModel.from_pretrained` and
`pipeline("text-generation")` load:

    DIR/config.json          model_type "openai-gpt"
    DIR/model.safetensors    `transformer.*` tensors (the LM head is tied)
    DIR/vocab.json           GPT-1's own tokenizer (OpenAIGPTTokenizer), or
    DIR/merges.txt
    DIR/tokenizer.json       the project's byte-level BPE, with a
    DIR/tokenizer_config.json   `tokenizer_config.json` naming
                             `PreTrainedTokenizerFast` for `AutoTokenizer`

Its GPT-1 has an MLP of exactly 4 x the width and float weights: other
models are refused.

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

from keras_gpt1 import artifacts
from keras_gpt1.artifacts import read_json
from keras_gpt1.convert.weight_table import Architecture
from keras_gpt1.convert.weight_table import backbone_weights
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line
from keras_gpt1.hyperparameters import INITIALIZER_STDDEV

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


TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
GENERATION_CONFIG_FILE = "generation_config.json"


def hf_config(backbone):
    """`config.json` of `transformers.OpenAIGPTConfig` for `backbone`."""
    return {
        "architectures": ["OpenAIGPTLMHeadModel"],
        "model_type": MODEL_TYPE,
        "vocab_size": backbone.vocabulary_size,
        "n_positions": backbone.max_sequence_length,
        "n_embd": backbone.hidden_dim,
        "n_layer": backbone.num_layers,
        "n_head": backbone.num_heads,
        "afn": "gelu",  # transformers' name for GPT-1's tanh GELU
        "resid_pdrop": backbone.dropout,
        "embd_pdrop": backbone.dropout,
        "attn_pdrop": (backbone.dropout if backbone.attention_dropout is None
                       else backbone.attention_dropout),
        "layer_norm_epsilon": backbone.layer_norm_epsilon,
        "initializer_range": INITIALIZER_STDDEV,
        "tie_word_embeddings": True,
    }


def check_hf_exportable(backbone):
    """`GPT1InputError` for what `OpenAIGPTLMHeadModel` cannot hold."""
    if backbone.intermediate_dim != 4 * backbone.hidden_dim:
        raise GPT1InputError(
            f"transformers' GPT-1 has an MLP of 4 x the width "
            f"({4 * backbone.hidden_dim}); this model's is {backbone.intermediate_dim}"
        )
    # A quantized layer holds integer weights (int8, or int4 packed in int8).
    import keras

    quantized = [v.path for v in backbone.weights
                 if keras.backend.standardize_dtype(v.dtype).startswith("int")]
    if quantized:
        raise GPT1InputError(
            f"the model is quantized ({quantized[0]}); export the float model "
            "to transformers and quantize there"
        )


def write_hf_checkpoint(backbone, tokenizer, directory):
    """Write the files of the module docstring into `directory` (the
    tokenizer's only when `tokenizer` is given)."""
    from safetensors.numpy import save_file

    from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer
    from keras_gpt1.tokenizers.hf_tokenizer_json import TOKENIZER_JSON
    from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json
    from keras_gpt1.tokenizers.hf_tokenizer_json import transformers_tokenizer_config

    check_hf_exportable(backbone)
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(hf_config(backbone), f, indent=2)
    tensors = {PREFIX + name: value for name, value in backbone_weights(backbone).items()}
    save_file(tensors, os.path.join(directory, WEIGHTS_FILE), metadata={"format": "pt"})
    if tokenizer is None:
        return
    if isinstance(tokenizer, GPT1Tokenizer):
        with open(os.path.join(directory, TOKENIZER_JSON), "w", encoding="utf-8") as f:
            f.write(tokenizer_json(tokenizer))
        with open(os.path.join(directory, TOKENIZER_CONFIG_FILE), "w",
                  encoding="utf-8") as f:
            f.write(transformers_tokenizer_config(tokenizer))
        with open(os.path.join(directory, GENERATION_CONFIG_FILE), "w",
                  encoding="utf-8") as f:
            json.dump({"eos_token_id": tokenizer.end_token_id,
                       "pad_token_id": tokenizer.pad_token_id}, f, indent=2)
    else:  # GPT-1's own: vocab.json + merges.txt, as Hugging Face ships them
        tokenizer.save_to_directory(directory)


def export_transformers_directory(model, path):
    """Write `model` (a `GPT1CausalLM`, with its tokenizer if it has one, or
    a `GPT1Backbone`) as the new Hugging Face directory `path`, atomically;
    returns a summary (`format`, `path`, `files`, `parameters`,
    `tokenizer_class`)."""
    backbone = getattr(model, "backbone", model)
    tokenizer = getattr(model, "tokenizer", None)
    check_hf_exportable(backbone)
    with artifacts.publishing_directory(path) as work:
        write_hf_checkpoint(backbone, tokenizer, work)
        files = {name: os.path.getsize(os.path.join(work, name))
                 for name in sorted(os.listdir(work))}
    return {
        "format": "transformers",
        "path": os.path.abspath(path),
        "files": files,
        "parameters": int(backbone.count_params()),
        "tokenizer_class": None if tokenizer is None else type(tokenizer).__name__,
    }


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
