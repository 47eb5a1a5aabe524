"""Export a `GPT1CausalLM` as a LiteRT bundle for on-device decoding.

The `.tflite` has two signatures, `prefill` and `decode` (see
`CausalLMLiteRTModule` for tensor names and shapes), builtin ops only, a
fixed maximum length and batch 1. `litert_config.json` beside it records
what an app needs to drive it.
"""

import os

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.causal_lm_litert_module import DECODE_SIGNATURE
from keras_gpt1.export.causal_lm_litert_module import INPUT_POS
from keras_gpt1.export.causal_lm_litert_module import LOGITS
from keras_gpt1.export.causal_lm_litert_module import PADDING_POSITION
from keras_gpt1.export.causal_lm_litert_module import PREFILL_SIGNATURE
from keras_gpt1.export.causal_lm_litert_module import TOKENS
from keras_gpt1.export.causal_lm_litert_module import CausalLMLiteRTModule
from keras_gpt1.export.causal_lm_litert_module import key_cache_name
from keras_gpt1.export.causal_lm_litert_module import value_cache_name
from keras_gpt1.export.litert_bundle import MODEL_FILE
from keras_gpt1.export.litert_bundle import check_new_output
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_causal_lm import CAUSAL_LM_TASK
from keras_gpt1.export.litert_conversion import NO_QUANTIZATION
from keras_gpt1.export.litert_conversion import check_quantization
from keras_gpt1.export.litert_conversion import convert_module
from keras_gpt1.export.saved_model_export import check_max_length

# Tokens per `prefill` call unless told otherwise (longer prompts are
# prefilled in chunks).
DEFAULT_PREFILL_LENGTH = 128


def check_prefill_length(prefill_length, max_length):
    if prefill_length is None:
        return min(DEFAULT_PREFILL_LENGTH, max_length)
    if not isinstance(prefill_length, int) or not 1 <= prefill_length <= max_length:
        raise GPT1InputError(
            f"prefill length must be between 1 and the max length of "
            f"{max_length}; got {prefill_length}"
        )
    return prefill_length


def special_token_ids(tokenizer):
    """`{pad,end,start,delimiter,extract}_token_id` (None without a
    tokenizer or where it has no such token)."""
    names = ("pad", "end", "start", "delimiter", "extract")
    return {
        f"{name}_token_id": getattr(tokenizer, f"{name}_token_id", None)
        for name in names
    }


def causal_lm_litert_config(module, tokenizer, quantize):
    backbone = module.model.backbone
    cache_names = []
    for i in range(module.num_layers):
        cache_names += [key_cache_name(i), value_cache_name(i)]
    tensors = {
        "inputs": [TOKENS, INPUT_POS, *cache_names],
        "outputs": [LOGITS, *cache_names],
    }
    return {
        "task": CAUSAL_LM_TASK,
        "quantization": quantize,
        "signatures": {PREFILL_SIGNATURE: tensors, DECODE_SIGNATURE: tensors},
        "max_length": module.max_length,
        "prefill_length": module.prefill_length,
        "padding_position": PADDING_POSITION,
        "cache_shape": list(module.cache_shape),
        "num_layers": backbone.num_layers,
        "num_heads": backbone.num_heads,
        "head_dim": backbone.head_dim,
        "hidden_dim": backbone.hidden_dim,
        "vocabulary_size": backbone.vocabulary_size,
        **special_token_ids(tokenizer),
    }


def export_causal_lm_litert(model, output_dir, quantize=NO_QUANTIZATION,
                            max_length=None, prefill_length=None):
    """Write a LiteRT bundle of `model` to `output_dir` (a new directory).

    The tokenizer files go beside the `.tflite` when the model has a
    tokenizer; without one, the bundle runs on token ids only.
    Returns the bundle config with `path` (the `.tflite`) and `files`.
    """
    check_quantization(quantize)
    max_length = check_max_length(model, max_length)
    prefill_length = check_prefill_length(prefill_length, max_length)
    check_new_output(output_dir)
    module = CausalLMLiteRTModule(model, max_length, prefill_length)
    tflite_bytes = convert_module(module, module.concrete_functions(), quantize)
    config = causal_lm_litert_config(module, model.tokenizer, quantize)
    config = write_bundle(output_dir, tflite_bytes, model.tokenizer, config)
    return dict(config, format="litert", path=os.path.join(output_dir, MODEL_FILE))
