"""Text files -> packed next-token windows, as tf.data pipelines.

Lines are streamed (files of any size), tokenized in-graph, concatenated
into one token stream and cut into contiguous windows of `seq_len + 1`
tokens. Every `validation_every`-th window is held out for validation, the
rest are shuffled for training. A window `w` becomes `(w[:-1], w[1:])`.
"""

import numpy as np
import tensorflow as tf

from keras_gpt1.errors import GPT1InputError

# Lines tokenized per tf.data map call.
TOKENIZE_BATCH = 256
SHUFFLE_BUFFER = 2048


def token_stream(paths, tokenizer):
    """Scalar int32 token ids of all files in order (newlines kept)."""
    lines = tf.data.TextLineDataset(list(paths))
    lines = lines.map(lambda line: line + "\n")
    ids = lines.batch(TOKENIZE_BATCH).map(
        lambda batch: tokenizer(batch).flat_values,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ids.unbatch()


def packed_windows(paths, tokenizer, seq_len):
    """Enumerated `(index, window)` pairs, `window` of `seq_len + 1` ids."""
    return token_stream(paths, tokenizer).batch(
        seq_len + 1, drop_remainder=True
    ).enumerate()


def held_out_windows(paths, tokenizer, seq_len, validation_every=20,
                     max_validation_windows=256):
    """The validation windows, `(n, seq_len + 1)` int32 (every
    `validation_every`-th window, the first `max_validation_windows`)."""
    if seq_len < 1:
        raise GPT1InputError(f"seq_len must be positive; got {seq_len}")
    held_out = []
    train_seen = 0
    windows = packed_windows(paths, tokenizer, seq_len)
    for i, window in windows.take(max_validation_windows * validation_every):
        if int(i) % validation_every == 0:
            held_out.append(window.numpy())
        else:
            train_seen += 1
    if not held_out or train_seen < 1:
        raise GPT1InputError(
            f"corpus too small: it gives {len(held_out) + train_seen} windows "
            f"of {seq_len + 1} tokens; need at least 2 (one held out for "
            "validation). Add text or lower --seq-len"
        )
    return np.stack(held_out)


def _split(window):
    return window[:, :-1], window[:, 1:]


def train_dataset(paths, tokenizer, seq_len, batch_size, validation_every=20,
                  seed=0, skip_batches=0, num_shards=1, shard_index=0):
    """Endless shuffled `(x, y)` batches of the windows not held out.

    Every shard shuffles the same stream with `seed` and keeps windows
    `shard_index, shard_index + num_shards, ...`: the shards are disjoint,
    and their batches of one step together hold the windows that one batch
    of `num_shards * batch_size` would. `skip_batches` (of this shard)
    fast-forwards it to resume.
    """
    if batch_size < 1:
        raise GPT1InputError(f"batch_size must be positive; got {batch_size}")
    windows = packed_windows(paths, tokenizer, seq_len)
    train = windows.filter(lambda i, w: tf.not_equal(i % validation_every, 0))
    train = train.map(lambda i, w: w)
    # A fixed seed: the first iterator of this dataset always yields the
    # same batches (a resumed run and every worker rely on that).
    train = train.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    train = train.repeat()
    if num_shards > 1:
        train = train.shard(num_shards, shard_index)
    train = train.batch(batch_size, drop_remainder=True).map(_split)
    if skip_batches:
        train = train.skip(skip_batches)
    return train.prefetch(tf.data.AUTOTUNE)


def validation_dataset(windows, batch_size, num_shards=1, shard_index=0):
    """`(x, y)` batches of held-out `windows` (this shard's), in memory."""
    windows = windows[shard_index::num_shards]
    validation = tf.data.Dataset.from_tensor_slices(windows)
    return validation.batch(batch_size).map(_split).cache()


def pretraining_datasets(
    paths,
    tokenizer,
    seq_len,
    batch_size,
    validation_every=20,
    max_validation_windows=256,
    seed=0,
    skip_batches=0,
):
    """Returns `(train, validation, num_validation_windows)` on one device.

    `train` repeats forever (fit with `steps_per_epoch`), shuffled with
    `seed`; `skip_batches` fast-forwards it to resume. `validation` is the
    first `max_validation_windows` held-out windows, kept in memory so
    every evaluation sees the same tokens.
    """
    if seq_len < 1 or batch_size < 1:
        raise GPT1InputError(
            f"seq_len and batch_size must be positive; got {seq_len}, {batch_size}"
        )
    held_out = held_out_windows(paths, tokenizer, seq_len, validation_every,
                                max_validation_windows)
    train = train_dataset(paths, tokenizer, seq_len, batch_size, validation_every,
                          seed, skip_batches)
    return train, validation_dataset(held_out, batch_size), len(held_out)
