"""Token ids at the boundary with users: range checks, and tokenizer output
as plain Python lists and strings.

An embedding lookup reads zeros (GPU) or wraps around (negative ids) for
an id outside the vocabulary, and the tokenizers' lookup tables turn one
into "" without complaint, so every entry point that takes ids from
outside checks them here.
"""

import numpy as np

from keras_gpt1.errors import GPT1InputError

# Incomplete UTF-8 (a byte-level BPE token can end inside a character) is
# dropped when ids become text, as keras-hub does; the SavedModel's
# in-graph decoding does the same (`unicode_transcode(errors="ignore")`).
UTF8_ERRORS = "ignore"


def flat_ids(ids):
    """Every id of `ids` (an array, a `tf.RaggedTensor` or nested lists of
    different lengths) as one flat int64 array."""
    if hasattr(ids, "flat_values"):  # tf.RaggedTensor
        return np.asarray(ids.flat_values).reshape(-1).astype("int64")
    if isinstance(ids, (list, tuple)) and not all(
        isinstance(x, (int, np.integer)) for x in ids
    ):
        parts = [flat_ids(x) for x in ids]
        return np.concatenate(parts) if parts else np.zeros(0, "int64")
    return np.asarray(ids).reshape(-1).astype("int64")


def check_token_ids(ids, vocabulary_size):
    """Raise `GPT1InputError` naming the first id outside
    `[0, vocabulary_size)`."""
    values = flat_ids(ids)
    bad = values[(values < 0) | (values >= vocabulary_size)]
    if bad.size:
        raise GPT1InputError(
            f"token id {int(bad[0])} is out of range [0, {vocabulary_size})"
        )


def concrete_range(ids):
    """`(min, max)` of `ids` when they hold values now (NumPy, or an eager
    tensor of any backend), else None (a symbolic or traced tensor inside a
    compiled function, where no backend can raise on a value)."""
    if isinstance(ids, (np.ndarray, list, tuple)):
        values = flat_ids(ids)
        return (int(values.min()), int(values.max())) if values.size else None
    import keras

    if keras.backend.is_keras_tensor(ids):
        return None
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or isinstance(ids, tf.RaggedTensor):
            return None
    elif backend == "jax":
        import jax

        if isinstance(ids, jax.core.Tracer):
            return None
    elif backend == "torch":
        import torch

        if torch.compiler.is_compiling():
            return None
    if int(np.prod(keras.ops.shape(ids))) == 0:
        return None
    low, high = keras.ops.min(ids), keras.ops.max(ids)
    return int(keras.ops.convert_to_numpy(low)), int(keras.ops.convert_to_numpy(high))


def check_concrete_token_ids(ids, vocabulary_size):
    """`check_token_ids` where `ids` hold values now (see `concrete_range`);
    nothing inside a compiled function."""
    bounds = concrete_range(ids)
    if bounds is None:
        return
    low, high = bounds
    if low < 0 or high >= vocabulary_size:
        bad = low if low < 0 else high
        raise GPT1InputError(f"token id {bad} is out of range [0, {vocabulary_size})")


def check_detokenize_input(ids, vocabulary_size):
    """`check_token_ids` for ids given to a tokenizer's `detokenize` from
    Python. In a graph (tf.data, a SavedModel) the ids come from the model
    and nothing can raise, so only eager inputs are checked."""
    try:
        import tensorflow as tf
    except ImportError:  # no graphs without TensorFlow
        check_token_ids(ids, vocabulary_size)
        return
    if tf.executing_eagerly():
        check_token_ids(ids, vocabulary_size)


def token_id_lists(tokenizer, texts):
    """`texts` (a list of strings) -> one list of int ids per text."""
    ids = tokenizer(list(texts))
    if hasattr(ids, "to_list"):
        return ids.to_list()
    return [[int(i) for i in np.asarray(row).reshape(-1)] for row in ids]


def detokenize_text(tokenizer, ids):
    """One row of ids -> a Python string."""
    text = tokenizer.detokenize([np.asarray(ids, "int32")])
    if not isinstance(text, list):
        text = np.asarray(text).tolist()
    value = text[0] if len(text) else b""
    if isinstance(value, bytes):
        return value.decode("utf-8", UTF8_ERRORS)
    return str(value)
