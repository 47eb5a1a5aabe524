"""Greedy KV-cache generation written with traceable TF ops only.

`GPT1CausalLM.generate` runs keras-hub's sampler and then post-processes
on the host with NumPy, which cannot live inside a SavedModel. This module
is the same algorithm as one graph, string in / string out, so TF Serving
can run it: tokenize, pad, prefill the cache, extend each row greedily until
every row has produced the end token (or the length budget is spent), cut
each row at its end token, detokenize.

Every step matches `GPT1CausalLM.generate(..., sampler="greedy")`: rows
shorter than the longest prompt keep their prompt tokens while the longer
rows are still being read, softmax-then-argmax picks the next token, and a
row stops at its first generated end token.
"""

import tensorflow as tf
from keras import ops

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
    _, cache = model._hidden_with_cache(token_ids, cache, 0)
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
    can end inside a character), as `GPT1CausalLM.generate` does when it
    decodes with `errors="ignore"`."""
    return tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="ignore"
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
        "text": valid_utf8(text),
        "completion": valid_utf8(completion),
        "num_new_tokens": output_lengths - lengths,
    }
