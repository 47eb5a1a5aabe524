"""The private Keras and keras-hub names this project relies on, in one
table, each reached through `internal()`.

Each entry is a fix or a speed-up that public APIs do not allow (the
reason is beside each use). A name that a new release renames or removes
fails loudly where it is used, naming itself and the versions this
project is tested with, instead of the fix silently no longer applying;
`tests/test_keras_internals.py` checks the whole table on every run.
"""

import importlib

# (module, attribute path): what is used, and where.
INTERNALS = {
    # GPT1AdamW: clipping that sees the whole batch's gradient under a
    # strategy overrides it (optimizers/gpt1_adamw.py).
    "optimizer_clip_gradients": ("keras.optimizers", "Optimizer._clip_gradients"),
    # GPT1AdamW's fused TensorFlow update reads the moments by index.
    "optimizer_variable_index": ("keras.optimizers", "Optimizer._get_variable_index"),
    # Multi-worker fit: build from zeros (training/keras_strategy_fixes.py).
    "trainer_symbolic_build": (
        "keras.src.backend.tensorflow.trainer", "TensorFlowTrainer._maybe_symbolic_build"),
    # Multi-worker fit: scalar log reduction (training/keras_strategy_fixes.py).
    "trainer_reduce_per_replica": (
        "keras.src.backend.tensorflow.trainer", "reduce_per_replica"),
    # SavedModel for TF Serving: the cache write without XLA ops
    # (export/saved_model_writer.py).
    "tensorflow_slice_update": ("keras.src.backend.tensorflow.core", "slice_update"),
    # GPT1Tokenizer without TensorFlow: keras-hub's Python decoding path,
    # overridden to return bytes as its TF path does (tokenizers/gpt1_tokenizer.py).
    "hub_bpe_python_detokenize": (
        "keras_hub.src.tokenizers.byte_pair_tokenizer", "BytePairTokenizer._detokenize_tokenizers"),
    # keras-hub helpers (models/).
    "hub_classproperty": ("keras_hub.src.utils.python_utils", "classproperty"),
    "hub_any_equal": ("keras_hub.src.utils.tensor_utils", "any_equal"),
    # Presets: keras-hub's loader machinery, extended to Hugging Face
    # openai-gpt directories (models/gpt1_presets.py, convert/hf_preset_loader.py).
    "hub_preset_loader": ("keras_hub.src.utils.preset_utils", "PresetLoader"),
    "hub_get_preset_loader": ("keras_hub.src.utils.preset_utils", "get_preset_loader"),
    "hub_check_file_exists": ("keras_hub.src.utils.preset_utils", "check_file_exists"),
    "hub_load_json": ("keras_hub.src.utils.preset_utils", "load_json"),
    "hub_get_file": ("keras_hub.src.utils.preset_utils", "get_file"),
    "hub_config_file": ("keras_hub.src.utils.preset_utils", "CONFIG_FILE"),
}

TESTED_WITH = "keras >= 3.15.1 and keras-hub >= 0.32 (setup.cfg)"


class MissingInternalError(ImportError):
    """A private Keras / keras-hub name this project relies on is gone."""


def internal(key):
    """The object `INTERNALS[key]` names; `MissingInternalError` if this
    Keras or keras-hub no longer has it."""
    module_name, path = INTERNALS[key]
    try:
        value = importlib.import_module(module_name)
        for part in path.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError):
        import keras

        raise MissingInternalError(
            f"keras-gpt1 relies on {module_name}.{path}, which keras "
            f"{keras.version()} (or its keras-hub) does not have; it is tested "
            f"with {TESTED_WITH}"
        ) from None
    return value
