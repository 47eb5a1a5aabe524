"""Task tables -> batched model inputs, as tf.data pipelines.

Text is tokenized once (in-graph BPE, in chunks), checked to fit the
context, and kept as ragged ids; each batch then goes through the paper's
input transformation (`task_transforms.task_sequences`) and is padded,
inside the `tf.data` map.
"""

import dataclasses
import weakref

import numpy as np
import tensorflow as tf

from keras_gpt1.data import task_transforms
from keras_gpt1.data.task_transforms import MIN_SEGMENT_TOKENS
from keras_gpt1.data.task_transforms import SpecialTokenIds
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.tasks import MULTIPLE_CHOICE
from keras_gpt1.tasks import TASK_SPECIAL_TOKENS

# Strings per tokenizer call when encoding a table.
TOKENIZE_CHUNK = 1024


@dataclasses.dataclass
class EncodedTable:
    """A `TaskTable`'s text as token ids.

    Attributes:
        segments: one ragged int32 `(num_rows, None)` per text segment.
        answers: multiple choice: ragged int32 `(num_rows, num_choices,
            None)`; else None.
    """

    task: str
    segments: list
    answers: object = None

    def __len__(self):
        return int(self.segments[0].nrows())


# One traced BPE graph per tokenizer (tracing it takes seconds).
_TOKENIZE_FUNCTIONS = weakref.WeakKeyDictionary()


def _tokenize_function(tokenizer):
    function = _TOKENIZE_FUNCTIONS.get(tokenizer)
    if function is None:
        function = tf.function(
            lambda texts: task_transforms.tokenize(tokenizer, texts),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )
        _TOKENIZE_FUNCTIONS[tokenizer] = function
    return function


def _tokenize_strings(tokenizer, strings):
    """Python strings -> ragged int32 ids `(len(strings), None)`.

    One chunk runs eagerly (about a second); more go through a traced graph
    (seconds to trace once, then fast).
    """
    if len(strings) <= TOKENIZE_CHUNK and tokenizer not in _TOKENIZE_FUNCTIONS:
        return task_transforms.tokenize(tokenizer, tf.constant(strings, tf.string))
    tokenize = _tokenize_function(tokenizer)
    chunks = [
        tokenize(tf.constant(strings[i:i + TOKENIZE_CHUNK], tf.string))
        for i in range(0, len(strings), TOKENIZE_CHUNK)
    ]
    return tf.concat(chunks, axis=0)


def encode_table(table, tokenizer, max_length):
    """Tokenize a `TaskTable` and check that every row fits `max_length`.

    A row fits when the special tokens plus `MIN_SEGMENT_TOKENS` of each
    segment (or all of a shorter one) fit: truncation cuts the rest. A row
    that cannot fit raises `GPT1InputError` naming the file, row and its
    longest column.
    """
    # All the table's strings in one pass: texts, then answers.
    strings = [text for column in table.texts for text in column]
    if table.task == MULTIPLE_CHOICE:
        strings += [answer for row in table.choices for answer in row]
    ids = _tokenize_strings(tokenizer, strings)
    num_rows = len(table)
    segments = [ids[i * num_rows:(i + 1) * num_rows] for i in range(len(table.texts))]
    answers = None
    columns = list(table.text_columns)
    lengths = [s.row_lengths().numpy() for s in segments]
    if table.task == MULTIPLE_CHOICE:
        answers = tf.RaggedTensor.from_uniform_row_length(
            ids[len(table.texts) * num_rows:], table.num_choices
        )
        if len(columns) == 1:
            columns.append("(no question)")
        columns.append(table.choice_columns[0])
        lengths.append(
            answers.row_lengths(axis=2).to_tensor().numpy().max(axis=1)
        )
    lengths = np.stack(lengths, axis=1)  # (num_rows, num_segments)
    needed = TASK_SPECIAL_TOKENS[table.task] + np.minimum(
        lengths, MIN_SEGMENT_TOKENS
    ).sum(axis=1)
    too_long = np.nonzero(needed > max_length)[0]
    if too_long.size:
        i = int(too_long[0])
        column = columns[int(np.argmax(lengths[i]))]
        raise GPT1InputError(
            f"{table.where(i, column)}: the row needs at least {needed[i]} "
            f"tokens with its special tokens (at least {MIN_SEGMENT_TOKENS} "
            f"per text) but the context holds {max_length}; truncation "
            "cannot make room"
        )
    return EncodedTable(task=table.task, segments=segments, answers=answers)


def task_dataset(
    encoded,
    special,
    max_length,
    batch_size,
    labels=None,
    shuffle=False,
    seed=0,
    repeat=False,
    num_shards=1,
    shard_index=0,
):
    """`tf.data.Dataset` of `(inputs, labels)` (or `inputs`) batches.

    Args:
        encoded: an `EncodedTable`.
        special: `SpecialTokenIds`.
        labels: NumPy labels from `task_labels.encode_labels`, or None.
        shuffle, seed: reshuffle every pass, reproducibly (the first
            iterator of the dataset always yields the same batches).
        repeat: repeat forever (training); full batches only then.
        num_shards, shard_index: keep examples `shard_index`,
            `shard_index + num_shards`, ... of the (shuffled) stream: one
            input pipeline's share under a distribution strategy.

    `inputs` is `{"token_ids", "padding_mask"}`, int32 `(batch,
    num_sequences, seq_len)` (see `task_transforms.pad_sequences`).
    """
    if not isinstance(special, SpecialTokenIds):
        special = SpecialTokenIds.from_tokenizer(special)
    task = encoded.task
    features = {"segments": tuple(encoded.segments)}
    if encoded.answers is not None:
        features["answers"] = encoded.answers
    elements = features if labels is None else (features, labels)
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if shuffle:
        dataset = dataset.shuffle(len(encoded), seed=seed,
                                  reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if num_shards > 1:
        dataset = dataset.shard(num_shards, shard_index)
    dataset = dataset.ragged_batch(batch_size, drop_remainder=repeat)

    def transform(features, *label):
        sequences = task_transforms.task_sequences(
            task, list(features["segments"]), special, max_length,
            answers=features.get("answers"),
        )
        inputs = task_transforms.pad_sequences(sequences, special.pad, max_length)
        return (inputs, *label) if label else inputs

    dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
