"""The base of every exported graph (model kind × format), and the checks
all four share.

An `ExportModule` is the `tf.Module` that `tf.saved_model.save` (and the
LiteRT converter after it) sees. The Keras model itself is not made a
tracked child: it holds caches of compiled functions keyed by tuples,
which a SavedModel cannot store. The module holds the model's
`tf.Variable`s instead (the plain TF variables behind the Keras variables;
the LiteRT converter only folds those into constants) and, when the graph
tokenizes, the tokenizer's lookup tables (untracked tables fail the
export, keras-hub issue 2015). Subclasses define `signatures()`:
`{signature name: concrete function}`.
"""

import tensorflow as tf

from keras_gpt1.errors import GPT1InputError


class ExportModule(tf.Module):
    """Holds `model`'s variables (and its tokenizer's tables when
    `with_tokenizer`); `self.model` is the Keras model, untracked."""

    def __init__(self, model, name, with_tokenizer=False):
        super().__init__(name=name)
        object.__setattr__(self, "model", model)  # not a saved child
        self.model_variables = [v.value for v in model.variables]
        self.tables = tokenizer_tables(model.tokenizer) if with_tokenizer else []

    def signatures(self):
        """`{signature name: concrete function}`, traced without XLA."""
        raise NotImplementedError


def tokenizer_tables(tokenizer):
    """The lookup tables a tokenizer keeps as attributes (keras-hub's BPE
    tokenizer and ours: static tables and the BPE merge cache)."""
    if tokenizer is None:
        return []
    tables = []
    for value in vars(tokenizer).values():
        if isinstance(
            value,
            (tf.lookup.StaticHashTable, tf.lookup.experimental.MutableHashTable),
        ):
            tables.append(value)
        elif isinstance(
            getattr(value, "id2value", None), tf.lookup.experimental.MutableHashTable
        ):  # keras-hub's BytePairTokenizerCache
            tables.append(value.id2value)
    return tables


def check_max_length(model, max_length):
    """`max_length`, defaulting to the model's context, checked."""
    context = model.backbone.max_sequence_length
    if max_length is None:
        return context
    if not isinstance(max_length, int) or not 2 <= max_length <= context:
        raise GPT1InputError(
            f"max length must be between 2 and the model's context of "
            f"{context}; got {max_length}"
        )
    return max_length


def require_tokenizer(model, why):
    if model.tokenizer is None:
        raise GPT1InputError(f"the model has no tokenizer; {why}")


def checked_token_ids(token_ids, vocabulary_size):
    """`token_ids` (int32 tensor) after in-graph checks that every id is in
    `[0, vocabulary_size)`: an embedding lookup would read zeros (GPU) or
    wrap around (negative ids) without complaint."""
    checks = [
        tf.debugging.assert_non_negative(
            token_ids, message="token id out of range (negative)"
        ),
        tf.debugging.assert_less(
            token_ids,
            vocabulary_size,
            message=f"token id out of range [0, {vocabulary_size})",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(token_ids)
