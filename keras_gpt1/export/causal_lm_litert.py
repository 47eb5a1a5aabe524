"""A `GPT1CausalLM` for devices: a LiteRT bundle whose `.tflite` has
`prefill` and `decode` signatures over an explicit KV cache (batch 1,
fixed maximum length), in the style of Google's on-device LLM exports.

Tensors (names in `signatures.py`): inputs `tokens` int32 `(1, n)`,
`input_pos` int32 `(n,)` and, per block `i`, the caches `kv_cache_k_{i}`
/ `kv_cache_v_{i}` float32 `(1, max_length, num_heads, head_dim)`;
outputs `logits` float32 `(1, 1, vocabulary_size)`, the next-token logits
after the last real token, and the updated caches under the same names.

`n` is `prefill_length` for `prefill` and 1 for `decode`. `input_pos`
holds the positions of `tokens`, contiguous from `input_pos[0]`; in
`prefill` the entries of padding tokens after the prompt are
`PADDING_POSITION` (-1), and the logits are those of the largest
position. Keys and values are written into the caches at `input_pos[0]`
with a dynamic-update-slice (no scatter), and the causal mask is built in
the graph from that position, so cache slots past the current position
(zeros, or stale entries written by padding) are never attended to. No
sampling happens in the graph. `litert_config.json` beside the `.tflite`
records what an app needs to drive it.
"""

import os

import tensorflow as tf
from keras import ops

from keras_gpt1 import artifacts
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.cache_attention import CACHE_ATTENTIONS
from keras_gpt1.export.cache_attention import LITERT_ATTENTION
from keras_gpt1.export.cache_attention import backbone_with_cache
from keras_gpt1.export.export_module import ExportModule
from keras_gpt1.export.export_module import check_max_length
from keras_gpt1.export.litert_bundle import MODEL_FILE
from keras_gpt1.export.litert_bundle import special_token_ids
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_conversion import NO_QUANTIZATION
from keras_gpt1.export.litert_conversion import check_quantization
from keras_gpt1.export.litert_conversion import convert_module
from keras_gpt1.export.quality_gate import QualityGate
from keras_gpt1.export.signatures import CAUSAL_LM_TASK
from keras_gpt1.export.signatures import DECODE_SIGNATURE
from keras_gpt1.export.signatures import INPUT_POS
from keras_gpt1.export.signatures import LOGITS
from keras_gpt1.export.signatures import PADDING_POSITION
from keras_gpt1.export.signatures import PREFILL_SIGNATURE
from keras_gpt1.export.signatures import TOKENS
from keras_gpt1.export.signatures import cache_names
from keras_gpt1.export.signatures import key_cache_name
from keras_gpt1.export.signatures import value_cache_name

# Tokens per `prefill` call unless told otherwise (longer prompts are
# prefilled in chunks).
DEFAULT_PREFILL_LENGTH = 128
# Batch size of the on-device signatures.
DEVICE_BATCH_SIZE = 1


class CausalLMLiteRTModule(ExportModule):
    """Wraps `model` (a `GPT1CausalLM`) as prefill and `decode` functions.

    Args:
        model: the Keras model (its weights become constants of the file).
        max_length: cache length, at most the model's context.
        prefill_lengths: `{signature name: tokens per call}`; one `prefill`
            for the LiteRT bundle, `prefill_{n}` for several lengths in a
            `.litertlm` (LiteRT-LM picks one by the length of `input_pos`).
        cache_attention: `"litert"` (default), attention written for
            LiteRT's CPU kernels (`cache_attention.py`), or `"keras"`, the
            model's own layers (the same numbers, a slower graph).
    """

    def __init__(self, model, max_length, prefill_lengths,
                 cache_attention=LITERT_ATTENTION):
        super().__init__(model, name="gpt1_causal_lm_litert")
        if cache_attention not in CACHE_ATTENTIONS:
            raise ValueError(f"cache_attention must be one of {CACHE_ATTENTIONS}; "
                             f"got {cache_attention!r}")
        self.cache_attention = cache_attention
        backbone = model.backbone
        self.num_layers = backbone.num_layers
        self.max_length = int(max_length)
        self.prefill_lengths = {name: int(n) for name, n in prefill_lengths.items()}
        self.cache_shape = (
            DEVICE_BATCH_SIZE,
            self.max_length,
            backbone.num_heads,
            backbone.head_dim,
        )

    def _input_signature(self, num_tokens):
        specs = [
            tf.TensorSpec([DEVICE_BATCH_SIZE, num_tokens], tf.int32, name=TOKENS),
            tf.TensorSpec([num_tokens], tf.int32, name=INPUT_POS),
        ]
        for name in cache_names(self.num_layers):
            specs.append(tf.TensorSpec(self.cache_shape, tf.float32, name=name))
        return specs

    def _run(self, tokens, input_pos, caches):
        """`tokens (1, n)` at `input_pos[0]` -> outputs dict (`logits`
        `(1, 1, vocab)` and the updated caches)."""
        backbone = self.model.backbone
        start = input_pos[0]
        cache = tuple(
            (caches[2 * i], caches[2 * i + 1]) for i in range(self.num_layers)
        )
        if self.cache_attention == LITERT_ATTENTION:
            x, cache = backbone_with_cache(backbone, tokens, cache, start)
        else:
            x, cache = backbone.call_with_cache(tokens, cache, start)
        outputs = {}
        for i, (key_cache, value_cache) in enumerate(cache):
            outputs[key_cache_name(i)] = key_cache
            outputs[value_cache_name(i)] = value_cache
        # Only the row of the last real token goes through the (large)
        # vocabulary projection.
        last = ops.argmax(input_pos)
        hidden = ops.take(x, ops.expand_dims(last, 0), axis=1)
        logits = backbone.token_embedding(hidden, reverse=True)
        outputs[LOGITS] = ops.cast(logits, "float32")
        return outputs

    def signatures(self):
        """`{"prefill...": ..., "decode": ...}` concrete functions."""
        functions = {}
        for name, length in (*self.prefill_lengths.items(), (DECODE_SIGNATURE, 1)):
            fn = tf.function(
                lambda tokens, input_pos, *caches: self._run(
                    tokens, input_pos, caches
                ),
                input_signature=self._input_signature(length),
                jit_compile=False,
                autograph=False,
            )
            functions[name] = fn.get_concrete_function()
        return functions


def check_prefill_length(prefill_length, max_length):
    if prefill_length is None:
        return min(DEFAULT_PREFILL_LENGTH, max_length)
    if not isinstance(prefill_length, int) or not 1 <= prefill_length <= max_length:
        raise GPT1InputError(
            f"prefill length must be between 1 and the max length of "
            f"{max_length}; got {prefill_length}"
        )
    return prefill_length


def causal_lm_litert_config(module, tokenizer, quantize):
    """What `litert_config.json` says of a causal-LM `.tflite`."""
    backbone = module.model.backbone
    names = cache_names(module.num_layers)
    tensors = {"inputs": [TOKENS, INPUT_POS, *names], "outputs": [LOGITS, *names]}
    return {
        "task": CAUSAL_LM_TASK,
        "quantization": quantize,
        "signatures": {PREFILL_SIGNATURE: tensors, DECODE_SIGNATURE: tensors},
        "max_length": module.max_length,
        "prefill_length": module.prefill_lengths[PREFILL_SIGNATURE],
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
                            max_length=None, prefill_length=None, gate_text=None):
    """Write a LiteRT bundle of `model` to `output_dir` (a new directory).

    The tokenizer files go beside the `.tflite` when the model has a
    tokenizer; without one, the bundle runs on token ids only. A quantized
    file passes the quality gate (`quality_gate.py`, on `gate_text` or a
    built-in passage) first; its figures are `quality_gate` in the config.
    Returns the bundle config with `path` (the `.tflite`) and `files`.
    """
    check_quantization(quantize)
    max_length = check_max_length(model, max_length)
    prefill_length = check_prefill_length(prefill_length, max_length)
    artifacts.check_new_output(output_dir)
    gate = QualityGate(model, quantize, gate_text)
    module = CausalLMLiteRTModule(model, max_length, {PREFILL_SIGNATURE: prefill_length})
    tflite_bytes = convert_module(module, quantize,
                                  tied_vocabulary_size=model.backbone.vocabulary_size)
    config = causal_lm_litert_config(module, model.tokenizer, quantize)
    config["quality_gate"] = gate.check(module, tflite_bytes)
    config = write_bundle(output_dir, tflite_bytes, model.tokenizer, config)
    return dict(config, format="litert", path=os.path.join(output_dir, MODEL_FILE))
