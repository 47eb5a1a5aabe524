"""Model directories: write atomically, load safely.

A model directory holds `model.keras` (weights, config and the tokenizer)
and the tokenizer's `vocabulary.json` / `merges.txt` beside it for tools
outside Keras.
"""

import json
import os
import shutil
import tempfile
import zipfile

import keras

from keras_gpt1.errors import GPT1InputError

MODEL_FILE = "model.keras"
SUMMARY_FILE = "summary.json"


def model_path(path):
    """`path` itself if it is a `.keras` file, else `path/model.keras`."""
    return path if path.endswith(".keras") else os.path.join(path, MODEL_FILE)


def load_model(path, compile=False):
    """Load a model saved by this project (`safe_mode` stays on).

    Raises `GPT1InputError` for a missing path, a directory without
    `model.keras`, or a file that is not a readable Keras archive.
    """
    import keras_gpt1  # noqa: F401  (registers the layers)

    file = model_path(path)
    if not os.path.exists(path):
        raise GPT1InputError(f"model not found: {path}")
    if not os.path.isfile(file):
        raise GPT1InputError(
            f"{path} is not a keras-gpt1 model directory (no {MODEL_FILE})"
        )
    if not zipfile.is_zipfile(file):
        raise GPT1InputError(f"{file} is not a Keras archive (truncated?)")
    try:
        return keras.saving.load_model(file, compile=compile, safe_mode=True)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        # TypeError: a config naming an unknown class, or of the wrong shape.
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GPT1InputError(f"could not load {file}: {first}") from None


def save_model_file(model, file):
    """Save `model` to `file` through a temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(file))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=directory)
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)
        os.replace(tmp, file)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path, data):
    """Write JSON through a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def publish_directory(work_dir, output_dir):
    """Move a finished `work_dir` to `output_dir` in one rename."""
    if os.path.exists(output_dir):
        raise GPT1InputError(f"output already exists: {output_dir}")
    os.replace(work_dir, output_dir)


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
