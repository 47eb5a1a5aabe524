"""What an exported `tf.Module` must hold so that `tf.saved_model.save`
(and the LiteRT converter after it) sees every resource its functions use.

The Keras model itself is not made a tracked child: it holds caches of
compiled functions keyed by tuples, which a SavedModel cannot store. The
module holds the model's `tf.Variable`s (the plain TF variables behind the
Keras variables; the LiteRT converter only folds those into constants) and
the tokenizer's lookup tables (untracked tables fail the export, keras-hub
issue 2015).
"""

import tensorflow as tf


def attach_untracked(module, name, value):
    """Set `module.<name> = value` without making `value` a saved child."""
    object.__setattr__(module, name, value)


def model_variables(model):
    """The `tf.Variable`s behind `model.variables`, in order."""
    return [v.value for v in model.variables]


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
