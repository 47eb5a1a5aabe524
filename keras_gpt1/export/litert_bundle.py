"""A LiteRT bundle: one directory with everything an app needs.

    DIR/model.tflite          the model (builtin ops only)
    DIR/litert_config.json    signatures, tensor names, shapes, special ids
    DIR/vocabulary.json       the tokenizer's files (tokenization runs
    DIR/merges.txt            outside the .tflite, in the app); absent
                              when the model has no tokenizer

The bundle is built in a hidden directory beside `DIR` and renamed into
place when complete (`artifacts.publishing_directory`), so a failed export
leaves nothing behind.
"""

import json
import os

from keras_gpt1 import artifacts
from keras_gpt1.errors import GPT1InputError

MODEL_FILE = "model.tflite"
CONFIG_FILE = "litert_config.json"
BUNDLE_FORMAT_VERSION = 1
SPECIAL_TOKEN_NAMES = ("pad", "end", "start", "delimiter", "extract")


def special_token_ids(tokenizer):
    """`{pad,end,start,delimiter,extract}_token_id` (None without a
    tokenizer or where it has no such token)."""
    return {
        f"{name}_token_id": getattr(tokenizer, f"{name}_token_id", None)
        for name in SPECIAL_TOKEN_NAMES
    }


def write_bundle(output_dir, tflite_bytes, tokenizer, config):
    """Write the bundle to `output_dir` (which must not exist) atomically.

    Returns the `config` written, with `files` (name -> size in bytes).
    """
    with artifacts.publishing_directory(output_dir) as work_dir:
        with open(os.path.join(work_dir, MODEL_FILE), "wb") as f:
            f.write(tflite_bytes)
        if tokenizer is not None:
            tokenizer.save_to_directory(work_dir)
        config = dict(config)
        config["format_version"] = BUNDLE_FORMAT_VERSION
        config["model_file"] = MODEL_FILE
        config["tokenizer_class"] = (
            None if tokenizer is None else type(tokenizer).__name__
        )
        config["files"] = {
            name: os.path.getsize(os.path.join(work_dir, name))
            for name in sorted(os.listdir(work_dir))
        }
        artifacts.write_json(os.path.join(work_dir, CONFIG_FILE), config)
    return config


def read_bundle_config(tflite_path):
    """The `litert_config.json` beside `tflite_path`, checked."""
    if not tflite_path.endswith(".tflite"):
        raise GPT1InputError(f"{tflite_path} is not a .tflite file")
    if not os.path.isfile(tflite_path):
        raise GPT1InputError(f"model not found: {tflite_path}")
    config_path = os.path.join(os.path.dirname(tflite_path), CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise GPT1InputError(
            f"{tflite_path} has no {CONFIG_FILE} beside it (export it with "
            f"`keras-gpt1 export --format litert`)"
        )
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise GPT1InputError(f"could not read {config_path}: {e}") from None
    if config.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise GPT1InputError(
            f"{config_path} has format version "
            f"{config.get('format_version')}; expected {BUNDLE_FORMAT_VERSION}"
        )
    return config


def load_bundle_tokenizer(tflite_path, config):
    """The tokenizer whose files lie beside `tflite_path`."""
    from keras_gpt1.tokenizers.tokenizer_directory import TOKENIZER_CLASSES
    from keras_gpt1.tokenizers.tokenizer_directory import load_tokenizer

    name = config.get("tokenizer_class")
    if name is None:
        raise GPT1InputError(
            f"{tflite_path} was exported without a tokenizer; give token ids"
        )
    if name not in TOKENIZER_CLASSES:
        raise GPT1InputError(f"unknown tokenizer class '{name}' in {CONFIG_FILE}")
    return load_tokenizer(os.path.dirname(os.path.abspath(tflite_path)), name)
