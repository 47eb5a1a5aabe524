"""The TF Serving interface of a `GPT1CausalLM`: a `tf.Module` with two
signatures, traced without XLA so that the SavedModel runs on any server.

- `serving_default`: `prompts` tf.string `(batch,)` -> `text` (prompt +
  greedy continuation), `completion`, tf.string `(batch,)`, and
  `num_new_tokens` int32 `(batch,)`. Tokenization and decoding run in the
  graph; `max_new_tokens` is fixed at export.
- `logits`: `token_ids` int32 `(batch, seq_len)` -> `logits` float32
  `(batch, seq_len, vocabulary_size)`.
"""

import tensorflow as tf

from keras_gpt1.export.greedy_generation import greedy_generate_text
from keras_gpt1.export.serving_ops import serving_ops
from keras_gpt1.export.trackables import attach_untracked
from keras_gpt1.export.trackables import model_variables
from keras_gpt1.export.trackables import tokenizer_tables

GENERATE_SIGNATURE = "serving_default"
LOGITS_SIGNATURE = "logits"


class CausalLMServingModule(tf.Module):
    """Wraps `model` (a `GPT1CausalLM` with a tokenizer) for TF Serving.

    Args:
        model: the Keras model; its variables are saved, not copied.
        max_new_tokens: continuation budget of `serving_default`.
        max_length: most tokens of prompt + continuation (at most the
            model's context); longer prompts fail with an
            `InvalidArgumentError` that names the limit.
    """

    def __init__(self, model, max_new_tokens, max_length):
        super().__init__(name="gpt1_causal_lm_serving")
        attach_untracked(self, "model", model)
        self.model_variables = model_variables(model)
        self.tables = tokenizer_tables(model.tokenizer)
        self.max_new_tokens = int(max_new_tokens)
        self.max_length = int(max_length)
        self.vocabulary_size = int(model.backbone.vocabulary_size)

    def _generate(self, prompts):
        return greedy_generate_text(
            self.model, prompts, self.max_new_tokens, self.max_length
        )

    def _logits(self, token_ids):
        checks = [
            tf.debugging.assert_less_equal(
                tf.shape(token_ids)[1],
                self.max_length,
                message=f"sequence is longer than the exported maximum "
                f"length of {self.max_length} tokens",
            ),
            tf.debugging.assert_non_negative(
                token_ids, message="token id out of range (negative)"
            ),
            tf.debugging.assert_less(
                token_ids,
                self.vocabulary_size,
                message=f"token id out of range [0, {self.vocabulary_size})",
            ),
        ]
        with tf.control_dependencies(checks):
            token_ids = tf.identity(token_ids)
        return {"logits": self.model(token_ids, training=False)}

    def signatures(self):
        """`{signature name: concrete function}`, traced without XLA ops.

        The functions are not attributes of the module, so the SavedModel
        holds exactly these traces.
        """
        generate = tf.function(
            self._generate,
            input_signature=[tf.TensorSpec([None], tf.string, name="prompts")],
            jit_compile=False,
        )
        logits = tf.function(
            self._logits,
            input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")],
            jit_compile=False,
        )
        with serving_ops():
            return {
                GENERATE_SIGNATURE: generate.get_concrete_function(),
                LOGITS_SIGNATURE: logits.get_concrete_function(),
            }
