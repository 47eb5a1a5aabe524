"""The on-device interface of a `GPT1CausalLM`: `prefill` and `decode`
signatures with the KV cache as inputs and outputs (batch 1, fixed
maximum length), in the style of Google's on-device LLM exports.

Tensor names (what an app looks tensors up by):

- inputs: `tokens` int32 `(1, n)`, `input_pos` int32 `(n,)` and, for each
  block `i`, `kv_cache_k_{i}` and `kv_cache_v_{i}` float32
  `(1, max_length, num_heads, head_dim)`;
- outputs: `logits` float32 `(1, 1, vocabulary_size)`, the next-token
  logits after the last real token, and the updated `kv_cache_k_{i}` /
  `kv_cache_v_{i}`.

`n` is `prefill_length` for `prefill` and 1 for `decode`. `input_pos` holds
the positions of `tokens`, contiguous from `input_pos[0]`; in `prefill`
the entries of padding tokens after the prompt are `PADDING_POSITION` (-1),
and the logits are those of the largest position. Keys and values are
written into the caches at `input_pos[0]` with a dynamic-update-slice (no
scatter), and the causal mask is built in the graph from that position, so
cache slots past the current position (zeros, or stale entries written by
padding) are never attended to. No sampling happens in the graph.
"""

import tensorflow as tf
from keras import ops

from keras_gpt1.export.trackables import attach_untracked
from keras_gpt1.export.trackables import model_variables

PREFILL_SIGNATURE = "prefill"
DECODE_SIGNATURE = "decode"
TOKENS = "tokens"
INPUT_POS = "input_pos"
LOGITS = "logits"
# `input_pos` entry of a padding token in a prefill chunk.
PADDING_POSITION = -1
# Batch size of the on-device signatures.
DEVICE_BATCH_SIZE = 1


def key_cache_name(layer_index):
    return f"kv_cache_k_{layer_index}"


def value_cache_name(layer_index):
    return f"kv_cache_v_{layer_index}"


class CausalLMLiteRTModule(tf.Module):
    """Wraps `model` (a `GPT1CausalLM`) as `prefill` / `decode` functions.

    Args:
        model: the Keras model (its weights become constants of the file).
        max_length: cache length, at most the model's context.
        prefill_length: tokens per `prefill` call, at most `max_length`.
    """

    def __init__(self, model, max_length, prefill_length):
        super().__init__(name="gpt1_causal_lm_litert")
        attach_untracked(self, "model", model)
        self.model_variables = model_variables(model)
        backbone = model.backbone
        self.num_layers = backbone.num_layers
        self.max_length = int(max_length)
        self.prefill_length = int(prefill_length)
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
        for i in range(self.num_layers):
            specs.append(
                tf.TensorSpec(self.cache_shape, tf.float32, name=key_cache_name(i))
            )
            specs.append(
                tf.TensorSpec(self.cache_shape, tf.float32, name=value_cache_name(i))
            )
        return specs

    def _run(self, tokens, input_pos, caches):
        """`tokens (1, n)` at `input_pos[0]` -> `(logits (1, 1, vocab),
        outputs dict)`."""
        backbone = self.model.backbone
        start = input_pos[0]
        x = backbone.embed(tokens, start_index=start)
        outputs = {}
        for i, block in enumerate(backbone.transformer_layers):
            cache = (caches[2 * i], caches[2 * i + 1])
            x, (key_cache, value_cache) = block(
                x, cache=cache, cache_update_index=start
            )
            outputs[key_cache_name(i)] = key_cache
            outputs[value_cache_name(i)] = value_cache
        # Only the row of the last real token goes through the (large)
        # vocabulary projection.
        last = ops.argmax(input_pos)
        hidden = ops.take(x, ops.expand_dims(last, 0), axis=1)
        logits = backbone.token_embedding(hidden, reverse=True)
        outputs[LOGITS] = ops.cast(logits, "float32")
        return outputs

    def concrete_functions(self):
        """`{"prefill": ..., "decode": ...}` concrete functions."""
        functions = {}
        for name, length in (
            (PREFILL_SIGNATURE, self.prefill_length),
            (DECODE_SIGNATURE, 1),
        ):
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
