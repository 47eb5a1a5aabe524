"""Log-likelihoods of continuation tokens, many requests per compiled
forward pass.

A request is `(context ids, continuation ids)`. It is scored as
lm-evaluation-harness's Hugging Face model scores it (`HFLM.
_loglikelihood_tokens`), so that both give the same numbers:

- the model reads `(context + continuation)[-(max_length + 1):][:-1]`
  (too long: the oldest context tokens are dropped; the continuation never
  is), every position real (no padding mask, as there);
- the log-softmax runs in float32 over the model's whole vocabulary axis;
- the continuation's log-probability is the sum over its tokens, and it is
  *greedy* when every one of them is the model's argmax.

Batches hold requests of similar length (sorted longest first), padded on
the right, which changes nothing before the padding in a causal model, to
one of a few lengths (`padded_length`) and a power-of-two number of rows,
so that a compiled backend (XLA, `jax.jit`) traces a handful of shapes
instead of one per length. Only `(batch, length)` log-probabilities and
argmax flags leave the compiled function, not `(batch, length,
vocabulary)` logits.
"""

import keras
import numpy as np
from keras import ops

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.token_ids import check_token_ids

# The shortest padded length; the others double up to the context.
MIN_PADDED_LENGTH = 16


def padded_length(length, max_length):
    """The length a batch whose longest row has `length` tokens is padded
    to: 16, 32, 64, ... or `max_length`, the first that fits."""
    padded = MIN_PADDED_LENGTH
    while padded < length:
        padded *= 2
    return min(padded, max_length)


def padded_rows(rows, batch_size):
    """The rows a batch of `rows` requests is padded to: the next power of
    two, at most `batch_size`."""
    padded = 1
    while padded < rows:
        padded *= 2
    return min(padded, batch_size)


class TokenLogProbabilities(keras.layers.Layer):
    """`(logits (batch, seq, vocab), targets (batch, seq) int)` ->
    `(log p(target) (batch, seq) float32, target is the argmax (batch, seq)
    int32)`."""

    def call(self, logits, targets):
        logits = ops.cast(logits, "float32")
        picked = ops.take_along_axis(logits, ops.expand_dims(targets, -1), axis=-1)
        log_probabilities = ops.squeeze(picked, -1) - ops.logsumexp(logits, axis=-1)
        is_argmax = ops.cast(ops.equal(ops.argmax(logits, axis=-1), targets), "int32")
        return log_probabilities, is_argmax

    def compute_output_spec(self, logits, targets):
        shape = targets.shape
        return (keras.KerasTensor(shape, "float32"), keras.KerasTensor(shape, "int32"))


class TokenScorer:
    """Scores `(context, continuation)` id requests with a `GPT1CausalLM`
    (module docstring).

    Args:
        lm: a `GPT1CausalLM`.
        max_length: tokens read at once, at most the model's context
            (default: the context, 512 for GPT-1).
        batch_size: rows per forward pass.

    Example:
    ```python
    scorer = TokenScorer(lm, batch_size=8)
    scorer.score([([5, 6], [7, 8]), ([9], [10])])  # [(log p, greedy), ...]
    ```
    """

    def __init__(self, lm, max_length=None, batch_size=8):
        context = lm.backbone.max_sequence_length
        self.max_length = int(max_length or context)
        if not 1 <= self.max_length <= context:
            raise GPT1InputError(
                f"max_length must be in [1, {context}] (the model's context); "
                f"got {self.max_length}"
            )
        if int(batch_size) < 1:
            raise GPT1InputError(f"batch_size must be >= 1; got {batch_size}")
        self.batch_size = int(batch_size)
        self.vocabulary_size = lm.backbone.vocabulary_size
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        targets = keras.Input((None,), dtype="int32", name="targets")
        outputs = TokenLogProbabilities(dtype="float32")(lm(token_ids), targets)
        self.model = keras.Model([token_ids, targets], outputs)

    def score(self, requests, on_batch=None):
        """`[(log p(continuation | context), is_greedy), ...]` in the order
        of `requests`, `(context ids, continuation ids)` each with a
        non-empty context and continuation; `on_batch(n)` is called after
        each batch of `n` requests (a progress bar)."""
        windows = [self._window(context, continuation)
                   for context, continuation in requests]
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i][0]))
        results = [None] * len(windows)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            for i, result in zip(batch, self._score_batch([windows[i] for i in batch])):
                results[i] = result
            if on_batch is not None:
                on_batch(len(batch))
        return results

    def _window(self, context, continuation):
        """`(ids read, continuation length)`: the last `max_length + 1` ids
        of context + continuation, less the last."""
        context, continuation = list(context), list(continuation)
        if not context or not continuation:
            raise GPT1InputError("a scored request needs a context and a continuation")
        if len(continuation) > self.max_length:
            raise GPT1InputError(
                f"a continuation of {len(continuation)} tokens does not fit in "
                f"max_length {self.max_length}"
            )
        ids = (context + continuation)[-(self.max_length + 1):]
        return ids, len(continuation)

    def _score_batch(self, windows):
        length = padded_length(max(len(ids) - 1 for ids, _ in windows), self.max_length)
        rows = padded_rows(len(windows), self.batch_size)
        token_ids = np.zeros((rows, length), "int32")
        targets = np.zeros((rows, length), "int32")
        for row, (ids, _) in enumerate(windows):
            token_ids[row, :len(ids) - 1] = ids[:-1]
            targets[row, :len(ids) - 1] = ids[1:]
        check_token_ids(targets, self.vocabulary_size)  # every id but the first
        check_token_ids(token_ids[:, :1], self.vocabulary_size)
        log_probabilities, is_argmax = self.model.predict_on_batch([token_ids, targets])
        results = []
        for row, (ids, continuation_length) in enumerate(windows):
            scored = slice(len(ids) - 1 - continuation_length, len(ids) - 1)
            results.append((
                float(np.sum(log_probabilities[row, scored], dtype="float64")),
                bool(np.all(is_argmax[row, scored])),
            ))
        return results
