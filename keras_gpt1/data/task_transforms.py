"""The paper's task input transformations (§3.3), as in-graph TF ops.

Every task becomes one or more token sequences that the pre-trained
model reads left to right, framed by the randomly initialised start
(`s`), delimiter (`$`) and extract (`e`) tokens:

    classification / regression:  [s; text; e]
    entailment:                   [s; premise; $; hypothesis; e]
    similarity:                   [s; a; $; b; e] and [s; b; $; a; e]
    multiple choice:              [s; context; question; $; answer_k; e]
                                  for each answer k

The functions here work on batches of token ids (`tf.RaggedTensor`,
`(batch, None)` per text segment) and return `(batch, num_sequences,
None)` ragged ids; `pad_sequences` makes the dense model inputs. They are
TF ops only, so they run inside `tf.data` and in exported graphs.

Truncation (when a row does not fit in `max_length`): the special tokens
always stay. Segments are cut to a common cap, the largest `c` with
`sum_i min(len_i, c) <= max_length - num_special_tokens`: the longest
segments lose tokens first, short ones stay whole, and the result does not
depend on the order of the segments (so both similarity orderings hold the
same tokens). A segment loses its end, except the context of a
multiple-choice row, which loses its beginning (the text farthest from the
question and answers). All answers of a row share one cap, computed with
the longest answer, so the context is cut the same way for every choice.
"""

import dataclasses

import tensorflow as tf

from keras_gpt1.tasks import CLASSIFICATION
from keras_gpt1.tasks import ENTAILMENT
from keras_gpt1.tasks import MULTIPLE_CHOICE
from keras_gpt1.tasks import REGRESSION
from keras_gpt1.tasks import SIMILARITY
from keras_gpt1.tasks import TASKS

# A segment is never cut below this many tokens: a row whose segments need
# more room than that (beyond the special tokens) does not fit the context.
MIN_SEGMENT_TOKENS = 4
# Padded lengths are rounded up to a multiple of this, so a compiled train
# step sees a few shapes rather than one per batch.
PAD_TO_MULTIPLE = 16


@dataclasses.dataclass(frozen=True)
class SpecialTokenIds:
    """Ids of the paper's start, delimiter and extract tokens and padding."""

    start: int
    delimiter: int
    extract: int
    pad: int

    @classmethod
    def from_tokenizer(cls, tokenizer):
        return cls(
            start=int(tokenizer.start_token_id),
            delimiter=int(tokenizer.delimiter_token_id),
            extract=int(tokenizer.extract_token_id),
            pad=int(tokenizer.pad_token_id),
        )


def truncation_cap(lengths, budget):
    """Largest `c` with `sum_i min(lengths[:, i], c) <= budget`, per row.

    Args:
        lengths: int32 `(batch, num_segments)` token counts.
        budget: int, tokens available for the segments.

    Returns int32 `(batch,)`. A row that fits gets a cap of at least its
    longest segment, so nothing is cut.
    """
    lengths = tf.cast(lengths, tf.int32)
    caps = tf.range(budget + 1, dtype=tf.int32)  # candidate caps 0..budget
    # (batch, num_segments, budget + 1) -> kept tokens for every candidate.
    kept = tf.reduce_sum(
        tf.minimum(lengths[:, :, None], caps[None, None, :]), axis=1
    )
    # `kept` grows with the cap, so the caps that fit are a prefix.
    fitting = tf.reduce_sum(tf.cast(kept <= budget, tf.int32), axis=1)
    return fitting - 1


def keep_first(segment, counts):
    """The first `counts[b]` ids of each row of ragged `(batch, None)`."""
    positions = tf.ragged.range(segment.row_lengths())
    return tf.ragged.boolean_mask(
        segment, positions < tf.cast(counts, positions.dtype)[:, None]
    )


def keep_last(segment, counts):
    """The last `counts[b]` ids of each row of ragged `(batch, None)`."""
    lengths = segment.row_lengths()
    positions = tf.ragged.range(lengths)
    first_kept = lengths - tf.cast(counts, lengths.dtype)
    return tf.ragged.boolean_mask(segment, positions >= first_kept[:, None])


def _token_column(batch_size, token_id):
    """Ragged `(batch, 1)` holding `token_id` in every row."""
    return tf.RaggedTensor.from_tensor(
        tf.fill(tf.stack([batch_size, 1]), tf.constant(token_id, tf.int32))
    )


def _as_ids(segment):
    return tf.cast(segment, tf.int32)


def _batch_size(segment):
    return segment.nrows(out_type=tf.int32)


def _fit_segments(segments, max_length, num_special):
    """Cut each ragged segment to the common truncation cap."""
    lengths = tf.stack(
        [tf.cast(s.row_lengths(), tf.int32) for s in segments], axis=1
    )
    cap = truncation_cap(lengths, max_length - num_special)
    return [keep_first(s, tf.minimum(cap, lengths[:, i]))
            for i, s in enumerate(segments)]


def _frame(parts):
    """Concatenate ragged `(batch, None)` parts into one sequence per row
    and add the sequence axis: `(batch, 1, None)`."""
    sequence = tf.concat(parts, axis=1)
    return tf.RaggedTensor.from_uniform_row_length(sequence, 1)


def classification_sequences(text, special, max_length):
    """`[s; text; e]`: ragged `(batch, None)` ids -> `(batch, 1, None)`."""
    (text,) = _fit_segments([_as_ids(text)], max_length, 2)
    n = _batch_size(text)
    return _frame(
        [_token_column(n, special.start), text, _token_column(n, special.extract)]
    )


def entailment_sequences(premise, hypothesis, special, max_length):
    """`[s; premise; $; hypothesis; e]` -> `(batch, 1, None)`."""
    premise, hypothesis = _fit_segments(
        [_as_ids(premise), _as_ids(hypothesis)], max_length, 3
    )
    n = _batch_size(premise)
    return _frame(
        [
            _token_column(n, special.start),
            premise,
            _token_column(n, special.delimiter),
            hypothesis,
            _token_column(n, special.extract),
        ]
    )


def similarity_sequences(text_a, text_b, special, max_length):
    """Both orderings, `[s; a; $; b; e]` then `[s; b; $; a; e]` ->
    `(batch, 2, None)`. There is no inherent order to the two texts; the
    model adds the two extract states."""
    text_a, text_b = _fit_segments(
        [_as_ids(text_a), _as_ids(text_b)], max_length, 3
    )
    n = _batch_size(text_a)
    start = _token_column(n, special.start)
    delimiter = _token_column(n, special.delimiter)
    extract = _token_column(n, special.extract)
    a_first = tf.concat([start, text_a, delimiter, text_b, extract], axis=1)
    b_first = tf.concat([start, text_b, delimiter, text_a, extract], axis=1)
    pair = tf.stack([a_first, b_first], axis=1)  # (batch, 2, None)
    return pair


def multiple_choice_sequences(context, question, answers, special, max_length):
    """`[s; context; question; $; answer_k; e]` for every answer k.

    Args:
        context, question: ragged `(batch, None)` ids (a question may be
            empty).
        answers: ragged `(batch, num_choices, None)` ids.

    Returns ragged `(batch, num_choices, None)`.
    """
    context = _as_ids(context)
    question = _as_ids(question)
    answers = _as_ids(answers)
    num_choices = _num_sequences(answers)
    # (batch,) length of the longest answer of each row.
    longest_answer = tf.cast(
        tf.reduce_max(answers.row_lengths(axis=2), axis=1), tf.int32
    )
    context_length = tf.cast(context.row_lengths(), tf.int32)
    question_length = tf.cast(question.row_lengths(), tf.int32)
    lengths = tf.stack([context_length, question_length, longest_answer], axis=1)
    cap = truncation_cap(lengths, max_length - 3)
    context = keep_last(context, tf.minimum(cap, context_length))
    question = keep_first(question, tf.minimum(cap, question_length))

    # One row per (example, choice): repeat context and question per choice.
    flat_answers = answers.values  # ragged (batch * num_choices, None)
    example_of_row = tf.repeat(tf.range(_batch_size(context)), num_choices)
    context = tf.gather(context, example_of_row)
    question = tf.gather(question, example_of_row)
    flat_cap = tf.gather(cap, example_of_row)
    flat_answers = keep_first(
        flat_answers,
        tf.minimum(flat_cap, tf.cast(flat_answers.row_lengths(), tf.int32)),
    )
    n = _batch_size(flat_answers)
    flat = tf.concat(
        [
            _token_column(n, special.start),
            context,
            question,
            _token_column(n, special.delimiter),
            flat_answers,
            _token_column(n, special.extract),
        ],
        axis=1,
    )
    return tf.RaggedTensor.from_uniform_row_length(
        flat, tf.cast(num_choices, tf.int64)
    )


def _num_sequences(sequences):
    """int32 size of axis 1 of ragged `(batch, n, None)` (uniform)."""
    if sequences.uniform_row_length is not None:
        return tf.cast(sequences.uniform_row_length, tf.int32)
    lengths = tf.cast(sequences.row_lengths(axis=1), tf.int32)
    return tf.concat([lengths, [1]], 0)[0]  # 1 for an empty batch


def task_sequences(task, segments, special, max_length, answers=None):
    """Dispatch to the transformation of `task`.

    Args:
        segments: list of ragged `(batch, None)` ids in `TASK_SEGMENTS[task]`
            order.
        answers: ragged `(batch, num_choices, None)` for multiple choice.

    Returns ragged `(batch, num_sequences, None)` ids.
    """
    if task in (CLASSIFICATION, REGRESSION):
        return classification_sequences(segments[0], special, max_length)
    if task == ENTAILMENT:
        return entailment_sequences(*segments, special, max_length)
    if task == SIMILARITY:
        return similarity_sequences(*segments, special, max_length)
    if task == MULTIPLE_CHOICE:
        return multiple_choice_sequences(
            segments[0], segments[1], answers, special, max_length
        )
    raise ValueError(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")


def pad_sequences(sequences, pad_id, max_length, multiple=PAD_TO_MULTIPLE):
    """Ragged `(batch, num_sequences, None)` -> the model's dense inputs.

    Sequences are right-padded with `pad_id` to the longest one in the
    batch, rounded up to `multiple` and capped at `max_length`. The model
    is causal, so right padding never reaches a real token's state.

    Returns `{"token_ids": int32 (batch, num_sequences, seq_len),
    "padding_mask": int32 (same), 1 on real tokens}`.
    """
    longest = tf.cast(
        tf.reduce_max(tf.concat([[0], sequences.values.row_lengths()], 0)),
        tf.int32,
    )
    padded_length = tf.minimum(
        (longest + multiple - 1) // multiple * multiple, max_length
    )
    padded_length = tf.maximum(padded_length, longest)
    shape = tf.stack([sequences.nrows(out_type=tf.int32),
                      _num_sequences(sequences),
                      padded_length])
    shape = tf.cast(shape, tf.int64)
    token_ids = sequences.to_tensor(default_value=pad_id, shape=shape)
    mask = tf.ones_like(sequences, dtype=tf.int32).to_tensor(
        default_value=0, shape=shape
    )
    return {"token_ids": tf.cast(token_ids, tf.int32), "padding_mask": mask}


def task_inputs(task, texts, tokenizer, max_length, answers=None):
    """Raw strings -> padded model inputs, in-graph.

    Args:
        texts: list of string tensors `(batch,)`, one per segment of
            `TASK_SEGMENTS[task]`.
        answers: string tensor `(batch, num_choices)` for multiple choice.

    Returns the dict of `pad_sequences`.
    """
    special = SpecialTokenIds.from_tokenizer(tokenizer)
    segments = [tokenize(tokenizer, t) for t in texts]
    answer_ids = None
    if answers is not None:
        answer_ids = tokenize_choices(tokenizer, answers)
    sequences = task_sequences(task, segments, special, max_length, answer_ids)
    return pad_sequences(sequences, special.pad, max_length)


def tokenize(tokenizer, texts):
    """String tensor `(batch,)` -> ragged int32 ids `(batch, None)`."""
    ids = tokenizer(texts)
    if isinstance(ids, list):  # keras-hub returns lists when run eagerly
        return tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1)
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.RaggedTensor.from_tensor(ids)
    return tf.cast(ids, tf.int32)


def tokenize_choices(tokenizer, answers):
    """String tensor `(batch, num_choices)` -> ragged ids
    `(batch, num_choices, None)`."""
    num_choices = tf.shape(answers, out_type=tf.int64)[1]
    flat = tokenize(tokenizer, tf.reshape(answers, [-1]))
    return tf.RaggedTensor.from_uniform_row_length(flat, num_choices)
