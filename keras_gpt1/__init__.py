"""keras-gpt1: GPT-1 (Radford et al., 2018) in Keras 3."""

from keras_gpt1._native_logs import quiet_native_logs

with quiet_native_logs():
    import keras  # noqa: F401
    import keras_hub  # noqa: F401
    import tensorflow
    import tensorflow_text  # noqa: F401

    # Device discovery logs (e.g. "failed call to cuInit") happen here too.
    tensorflow.config.list_physical_devices()

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.layers import CausalSelfAttention
from keras_gpt1.layers import GPT1DecoderBlock
from keras_gpt1.models import GPT1Backbone
from keras_gpt1.models import GPT1CausalLM
from keras_gpt1.models import GPT1CausalLMPreprocessor
from keras_gpt1.models import GPT1TaskModel
from keras_gpt1.tokenizers import GPT1Tokenizer

# Registers the optimizer and schedules that a saved compile config names.
from keras_gpt1.training import optimizer as _optimizer  # noqa: F401

__version__ = "0.1.0"

__all__ = [
    "CausalSelfAttention",
    "GPT1Backbone",
    "GPT1CausalLM",
    "GPT1CausalLMPreprocessor",
    "GPT1DecoderBlock",
    "GPT1InputError",
    "GPT1TaskModel",
    "GPT1Tokenizer",
]
