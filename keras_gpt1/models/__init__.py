"""GPT-1 models: the backbone, the causal LM and the fine-tuned task model."""

from keras_gpt1.models.gpt1_backbone import GPT1Backbone
from keras_gpt1.models.gpt1_causal_lm import GPT1CausalLM
from keras_gpt1.models.gpt1_causal_lm_preprocessor import GPT1CausalLMPreprocessor
from keras_gpt1.models.gpt1_presets import GPT1_PRESETS
from keras_gpt1.models.gpt1_task_model import GPT1TaskModel

__all__ = [
    "GPT1Backbone",
    "GPT1CausalLM",
    "GPT1CausalLMPreprocessor",
    "GPT1TaskModel",
    "GPT1_PRESETS",
]
