"""A `GPT1CausalLM` for TF Serving: a versioned SavedModel
(`saved_model_writer.py`) with two signatures, traced without XLA so that
it runs on any server.

- `serving_default`: `prompts` tf.string `(batch,)` -> `text` (prompt +
  greedy continuation), `completion`, tf.string `(batch,)`, and
  `num_new_tokens` int32 `(batch,)`. Tokenization and decoding run in the
  graph; `max_new_tokens` is fixed at export.
- `logits`: `token_ids` int32 `(batch, seq_len)` -> `logits` float32
  `(batch, seq_len, vocabulary_size)`.

`GPT1CausalLM.generate` runs keras-hub's sampler and then post-processes
on the host with NumPy, which cannot live inside a SavedModel. Greedy
generation is therefore written here again with traceable TF ops only,
string in / string out: tokenize, pad, prefill the KV cache, extend each
row greedily until every row has produced the end token (or the length
budget is spent), cut each row at its end token, detokenize. Every step
matches `GPT1CausalLM.generate(..., sampler="greedy")`: rows shorter than
the longest prompt keep their prompt tokens while the longer rows are
still being read, softmax-then-argmax picks the next token, and a row
stops at its first generated end token.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.export_module import ExportModule
from keras_gpt1.export.export_module import check_max_length
from keras_gpt1.export.export_module import checked_token_ids
from keras_gpt1.export.export_module import require_tokenizer
from keras_gpt1.export.saved_model_writer import DEFAULT_MODEL_NAME
from keras_gpt1.export.saved_model_writer import WARMUP_PROMPT
from keras_gpt1.export.saved_model_writer import write_saved_model
from keras_gpt1.export.signatures import CAUSAL_LM_SERVING_OUTPUTS
from keras_gpt1.export.signatures import CAUSAL_LM_TASK
from keras_gpt1.export.signatures import COMPLETION
from keras_gpt1.export.signatures import LOGITS
from keras_gpt1.export.signatures import LOGITS_SIGNATURE
from keras_gpt1.export.signatures import NUM_NEW_TOKENS
from keras_gpt1.export.signatures import PROMPTS
from keras_gpt1.export.signatures import SERVING_DEFAULT
from keras_gpt1.export.signatures import TEXT
from keras_gpt1.export.signatures import TOKEN_IDS
from keras_gpt1.token_ids import UTF8_ERRORS

DEFAULT_MAX_NEW_TOKENS = 32

# === Greedy generation in TF ops ===

EMPTY_PROMPT_MESSAGE = "prompt is empty (a batch row tokenized to no tokens)"
EMPTY_BATCH_MESSAGE = "no prompt given (the batch is empty)"


def prompt_too_long_message(max_length):
    return (
        f"prompt leaves no room in the exported maximum length of "
        f"{max_length} tokens"
    )


def greedy_generate_ids(model, prompt_ids, max_new_tokens, max_length):
    """Extend each prompt by up to `max_new_tokens` greedy tokens.

    Args:
        model: a `GPT1CausalLM` with a tokenizer (for the pad/end ids).
        prompt_ids: int32 `tf.RaggedTensor` `(batch, None)`.
        max_new_tokens: Python int, the continuation budget per row.
        max_length: Python int, the most tokens (prompt + continuation) of
            a row; prompts must be shorter.

    Returns `(token_ids (batch, total) int32, prompt_lengths (batch,),
    output_lengths (batch,))`: row `i` of the result is
    `token_ids[i, :output_lengths[i]]`, its continuation starts at
    `prompt_lengths[i]`.
    """
    tokenizer = model.tokenizer
    pad_id = int(getattr(tokenizer, "pad_token_id", 0) or 0)
    end_id = getattr(tokenizer, "end_token_id", None)

    lengths = tf.cast(prompt_ids.row_lengths(), "int32")
    checks = [
        tf.debugging.assert_positive(
            tf.size(lengths), message=EMPTY_BATCH_MESSAGE
        ),
        tf.debugging.assert_positive(lengths, message=EMPTY_PROMPT_MESSAGE),
        tf.debugging.assert_less(
            lengths, max_length, message=prompt_too_long_message(max_length)
        ),
    ]
    with tf.control_dependencies(checks):
        lengths = tf.identity(lengths)
    longest = tf.reduce_max(lengths)
    total = tf.minimum(longest + max_new_tokens, max_length)
    token_ids = prompt_ids.to_tensor(default_value=pad_id)
    batch_size = tf.shape(token_ids)[0]
    padding = tf.fill([batch_size, total - longest], tf.constant(pad_id, "int32"))
    token_ids = tf.concat([tf.cast(token_ids, "int32"), padding], axis=1)
    prompt_mask = tf.sequence_mask(lengths, total)

    # Prefill: keys/values of every position. Those past a row's prompt
    # are overwritten as its tokens are generated.
    cache = model.initial_cache(batch_size, total)
    _, cache = model.backbone.call_with_cache(token_ids, cache, 0)
    index = tf.reduce_min(lengths)

    def cond(ids, cache, index):
        if end_id is None:
            return tf.constant(True)
        generated_end = tf.logical_and(
            tf.equal(ids, end_id), tf.logical_not(prompt_mask)
        )
        return tf.logical_not(
            tf.reduce_all(tf.reduce_any(generated_end, axis=1))
        )

    def body(ids, cache, index):
        last = tf.slice(ids, [0, index - 1], [batch_size, 1])
        logits, _, cache = model.call_with_cache(last, cache, index - 1)
        probabilities = tf.nn.softmax(tf.cast(logits[:, 0], "float32"))
        next_token = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        next_token = tf.where(prompt_mask[:, index], ids[:, index], next_token)
        ids = ops.slice_update(ids, [0, index], tf.expand_dims(next_token, 1))
        return ids, cache, index + 1

    token_ids, _, _ = tf.while_loop(
        cond,
        body,
        (token_ids, cache, index),
        maximum_iterations=total - index,
    )

    output_lengths = tf.minimum(lengths + max_new_tokens, total)
    if end_id is not None:
        positions = tf.range(total)[tf.newaxis, :]
        is_end = (
            tf.equal(token_ids, end_id)
            & tf.logical_not(prompt_mask)
            & (positions < output_lengths[:, tf.newaxis])
        )
        first_end = tf.argmax(tf.cast(is_end, "int32"), axis=1, output_type=tf.int32)
        output_lengths = tf.where(
            tf.reduce_any(is_end, axis=1), first_end, output_lengths
        )
    return token_ids, lengths, output_lengths


def valid_utf8(strings):
    """Drop the bytes of incomplete UTF-8 sequences (a byte-level BPE token
    can end inside a character), as `GPT1CausalLM.generate` does
    (`tokenizers.token_ids.UTF8_ERRORS`)."""
    return tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors=UTF8_ERRORS
    )


def greedy_generate_text(model, prompts, max_new_tokens, max_length):
    """Strings `(batch,)` -> dict of `text` (prompt + continuation),
    `completion` (continuation only), both valid UTF-8 tf.string
    `(batch,)`, and `num_new_tokens` int32 `(batch,)`."""
    tokenizer = model.tokenizer
    prompt_ids = tf.cast(tokenizer(prompts), "int32")
    token_ids, lengths, output_lengths = greedy_generate_ids(
        model, prompt_ids, max_new_tokens, max_length
    )
    positions = tf.range(tf.shape(token_ids)[1])[tf.newaxis, :]
    text_mask = positions < output_lengths[:, tf.newaxis]
    completion_mask = text_mask & (positions >= lengths[:, tf.newaxis])
    text = tokenizer.detokenize(tf.ragged.boolean_mask(token_ids, text_mask))
    completion = tokenizer.detokenize(
        tf.ragged.boolean_mask(token_ids, completion_mask)
    )
    return {
        TEXT: valid_utf8(text),
        COMPLETION: valid_utf8(completion),
        NUM_NEW_TOKENS: output_lengths - lengths,
    }


# === The module and its export ===


class CausalLMServingModule(ExportModule):
    """Wraps `model` (a `GPT1CausalLM` with a tokenizer) for TF Serving.

    Args:
        model: the Keras model; its variables are saved, not copied.
        max_new_tokens: continuation budget of `serving_default`.
        max_length: most tokens of prompt + continuation (at most the
            model's context); longer prompts fail with an
            `InvalidArgumentError` that names the limit.
    """

    def __init__(self, model, max_new_tokens, max_length):
        super().__init__(model, name="gpt1_causal_lm_serving", with_tokenizer=True)
        self.max_new_tokens = int(max_new_tokens)
        self.max_length = int(max_length)
        self.vocabulary_size = int(model.backbone.vocabulary_size)

    def _generate(self, prompts):
        return greedy_generate_text(
            self.model, prompts, self.max_new_tokens, self.max_length
        )

    def _logits(self, token_ids):
        length_check = tf.debugging.assert_less_equal(
            tf.shape(token_ids)[1],
            self.max_length,
            message=f"sequence is longer than the exported maximum "
            f"length of {self.max_length} tokens",
        )
        with tf.control_dependencies([length_check]):
            token_ids = checked_token_ids(token_ids, self.vocabulary_size)
        return {LOGITS: self.model(token_ids, training=False)}

    def signatures(self):
        """`{signature name: concrete function}`. The functions are not
        attributes of the module, so the SavedModel holds exactly these
        traces."""
        generate = tf.function(
            self._generate,
            input_signature=[tf.TensorSpec([None], tf.string, name=PROMPTS)],
            jit_compile=False,
        )
        logits = tf.function(
            self._logits,
            input_signature=[tf.TensorSpec([None, None], tf.int32, name=TOKEN_IDS)],
            jit_compile=False,
        )
        return {
            SERVING_DEFAULT: generate.get_concrete_function(),
            LOGITS_SIGNATURE: logits.get_concrete_function(),
        }


def export_causal_lm_saved_model(model, base_dir, version=None,
                                 max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
                                 max_length=None, model_name=DEFAULT_MODEL_NAME):
    """Export a `GPT1CausalLM` with `serving_default` (strings -> greedy
    text) and `logits` (token ids -> logits) as `base_dir/<version>/`."""
    require_tokenizer(model, "a SavedModel for TF Serving tokenizes in the graph "
                      "and needs one")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise GPT1InputError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
    max_length = check_max_length(model, max_length)
    module = CausalLMServingModule(model, max_new_tokens, max_length)
    warmup_ids = np.asarray(
        model.tokenizer([WARMUP_PROMPT])[0], "int32"
    )[np.newaxis, : max_length - 1]
    warmup = [
        (SERVING_DEFAULT, {PROMPTS: np.array([WARMUP_PROMPT], object)}),
        (LOGITS_SIGNATURE, {TOKEN_IDS: warmup_ids}),
    ]
    info = {
        "task": CAUSAL_LM_TASK,
        "max_new_tokens": max_new_tokens,
        "max_length": max_length,
        "inputs": {SERVING_DEFAULT: [PROMPTS], LOGITS_SIGNATURE: [TOKEN_IDS]},
        "outputs": {
            SERVING_DEFAULT: list(CAUSAL_LM_SERVING_OUTPUTS),
            LOGITS_SIGNATURE: [LOGITS],
        },
    }
    return write_saved_model(module, base_dir, version, info, warmup, model_name)
