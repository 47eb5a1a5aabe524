"""keras-gpt1: GPT-1 (Radford et al., 2018) in Keras 3.

`import keras_gpt1` loads nothing heavy (the CLI parses its flags in a
fraction of a second). The first use of a name below (`keras_gpt1.GPT1CausalLM`,
`from keras_gpt1 import GPT1Tokenizer`) imports Keras, and TensorFlow where
it is the backend or the name needs it, with TensorFlow's start-up log lines
hidden, and registers every keras-gpt1 class with Keras, so that
`keras.saving.load_model` finds them. The models need no TensorFlow (JAX or
PyTorch backends); the in-graph tokenizers, tf.data pipelines, strategies
and exporters do.
"""

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "CausalSelfAttention": "keras_gpt1.layers",
    "GPT1Backbone": "keras_gpt1.models",
    "GPT1CausalLM": "keras_gpt1.models",
    "GPT1CausalLMPreprocessor": "keras_gpt1.models",
    "GPT1DecoderBlock": "keras_gpt1.layers",
    "GPT1InputError": "keras_gpt1.errors",
    "GPT1TaskModel": "keras_gpt1.models",
    "GPT1Tokenizer": "keras_gpt1.tokenizers",
    "OpenAIGPTTokenizer": "keras_gpt1.tokenizers",
}
# What registers keras-gpt1's classes with Keras; the tokenizers only where
# TensorFlow Text can be imported.
_REGISTERING = ("keras_gpt1.models", "keras_gpt1.optimizers")
_REGISTERING_WITH_TENSORFLOW = (
    "keras_gpt1.tokenizers",
    # Hugging Face openai-gpt for from_preset and export_to_transformers.
    "keras_gpt1.convert.hf_preset_loader",
)

__all__ = sorted(_EXPORTS)


_registered = False


def register_classes():
    """Import every module that registers a keras-gpt1 class with Keras
    (what `keras.saving.load_model` of a keras-gpt1 file needs); once."""
    global _registered
    if _registered:
        return
    from keras_gpt1._native_logs import load_backend_quietly
    from keras_gpt1._native_logs import quiet_native_logs

    load_backend_quietly()
    with quiet_native_logs():
        for module in _REGISTERING:
            importlib.import_module(module)
        for module in _REGISTERING_WITH_TENSORFLOW:
            try:
                importlib.import_module(module)
            except ImportError as e:
                if e.name not in ("tensorflow", "tensorflow_text"):
                    raise
    _registered = True


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'keras_gpt1' has no attribute {name!r}")
    if _EXPORTS[name] != "keras_gpt1.errors":
        register_classes()
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
