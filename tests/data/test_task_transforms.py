import numpy as np
import pytest
import tensorflow as tf

from keras_gpt1.data import task_transforms as T

S, D, E, PAD = 2, 3, 4, 0
SPECIAL = T.SpecialTokenIds(start=S, delimiter=D, extract=E, pad=PAD)


def ragged(rows):
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)


def answers(rows):
    """`rows`: per example, a list of answers (lists of ids)."""
    flat = [a for row in rows for a in row]
    return tf.RaggedTensor.from_uniform_row_length(ragged(flat), len(rows[0]))


def test_classification_layout_is_start_text_extract():
    out = T.classification_sequences(ragged([[10, 11, 12], [20]]), SPECIAL, 16)
    assert out.to_list() == [[[S, 10, 11, 12, E]], [[S, 20, E]]]


def test_classification_truncation_cuts_the_end_and_keeps_special_tokens():
    out = T.classification_sequences(ragged([[10, 11, 12, 13, 14]]), SPECIAL, 5)
    assert out.to_list() == [[[S, 10, 11, 12, E]]]


def test_entailment_layout_puts_delimiter_between_premise_and_hypothesis():
    out = T.entailment_sequences(
        ragged([[10, 11], [20]]), ragged([[30], [40, 41]]), SPECIAL, 16
    )
    assert out.to_list() == [
        [[S, 10, 11, D, 30, E]],
        [[S, 20, D, 40, 41, E]],
    ]


def test_entailment_truncation_cuts_the_longest_segment_first():
    premise = ragged([[10, 11, 12, 13, 14, 15]])
    hypothesis = ragged([[30, 31]])
    # 9 - 3 special tokens = 6 for the texts: the hypothesis stays whole.
    out = T.entailment_sequences(premise, hypothesis, SPECIAL, 9)
    assert out.to_list() == [[[S, 10, 11, 12, 13, D, 30, 31, E]]]


def test_truncation_of_two_long_segments_gives_both_the_same_cap():
    out = T.entailment_sequences(
        ragged([[10, 11, 12, 13, 14]]), ragged([[30, 31, 32, 33, 34]]), SPECIAL, 8
    )
    # 5 tokens of room, cap 2 each: one slot stays unused (order-independent).
    assert out.to_list() == [[[S, 10, 11, D, 30, 31, E]]]


def test_similarity_layout_holds_both_orderings():
    out = T.similarity_sequences(ragged([[10, 11]]), ragged([[30]]), SPECIAL, 16)
    assert out.to_list() == [[[S, 10, 11, D, 30, E], [S, 30, D, 10, 11, E]]]


def test_similarity_truncation_keeps_the_same_tokens_whatever_the_order():
    a = ragged([[10, 11, 12, 13, 14, 15, 16]])
    b = ragged([[30, 31, 32, 33]])
    ab = T.similarity_sequences(a, b, SPECIAL, 10).to_list()[0]
    ba = T.similarity_sequences(b, a, SPECIAL, 10).to_list()[0]
    assert ab[0] == ba[1] and ab[1] == ba[0]
    assert ab[0] == [S, 10, 11, 12, D, 30, 31, 32, E]


def test_multiple_choice_layout_one_sequence_per_answer():
    out = T.multiple_choice_sequences(
        ragged([[10, 11], [20]]),
        ragged([[30], []]),
        answers([[[50], [51, 52], [53]], [[60], [61], [62, 63]]]),
        SPECIAL,
        16,
    )
    assert out.to_list() == [
        [[S, 10, 11, 30, D, 50, E], [S, 10, 11, 30, D, 51, 52, E],
         [S, 10, 11, 30, D, 53, E]],
        [[S, 20, D, 60, E], [S, 20, D, 61, E], [S, 20, D, 62, 63, E]],
    ]


def test_multiple_choice_truncation_cuts_the_context_from_its_start():
    out = T.multiple_choice_sequences(
        ragged([[10, 11, 12, 13, 14, 15]]),
        ragged([[30]]),
        answers([[[50], [51, 52, 53]]]),
        SPECIAL,
        10,
    )
    # 7 tokens for context, question and the longest answer: cap 3. The
    # context keeps its last 3 tokens for every answer.
    assert out.to_list() == [
        [[S, 13, 14, 15, 30, D, 50, E], [S, 13, 14, 15, 30, D, 51, 52, 53, E]]
    ]


@pytest.mark.parametrize("seed", range(5))
def test_truncated_rows_fit_and_keep_short_segments_whole(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 40, size=(8, 2))
    premise = ragged([list(range(100, 100 + n)) for n in lengths[:, 0]])
    hypothesis = ragged([list(range(200, 200 + n)) for n in lengths[:, 1]])
    max_length = 24
    out = T.entailment_sequences(premise, hypothesis, SPECIAL, max_length)
    for row, (p, h) in zip(out.to_list(), lengths):
        seq = row[0]
        assert len(seq) <= max_length
        assert seq[0] == S and seq[-1] == E and seq.count(D) == 1
        kept_p = seq.index(D) - 1
        kept_h = len(seq) - seq.index(D) - 2
        if p + h + 3 <= max_length:
            assert (kept_p, kept_h) == (p, h)
            continue
        assert len(seq) >= max_length - 1  # at most one slot unused
        if min(p, h) <= (max_length - 3) // 2:
            assert min(p, h) in (kept_p, kept_h)  # the short one is whole


def test_truncation_cap_is_the_largest_that_fits():
    caps = T.truncation_cap(tf.constant([[5, 100], [3, 3], [10, 10], [0, 0]]), 10)
    assert caps.numpy().tolist() == [5, 10, 5, 10]


def test_pad_sequences_right_pads_to_a_multiple_and_masks_padding():
    sequences = T.similarity_sequences(ragged([[10], [20, 21]]), ragged([[30], [40]]),
                                       SPECIAL, 64)
    inputs = T.pad_sequences(sequences, PAD, max_length=64, multiple=8)
    ids = inputs["token_ids"].numpy()
    mask = inputs["padding_mask"].numpy()
    assert ids.shape == (2, 2, 8) and mask.shape == (2, 2, 8)
    np.testing.assert_array_equal(ids[1, 1], [S, 40, D, 20, 21, E, PAD, PAD])
    np.testing.assert_array_equal(mask[1, 1], [1, 1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(mask[0, 0], [1, 1, 1, 1, 1, 0, 0, 0])


def test_pad_sequences_never_pads_beyond_max_length():
    sequences = T.classification_sequences(ragged([[10] * 20]), SPECIAL, 20)
    inputs = T.pad_sequences(sequences, PAD, max_length=20, multiple=16)
    assert inputs["token_ids"].shape == (1, 1, 20)


def test_task_inputs_tokenize_and_transform_inside_tf_data(tokenizer):
    texts = tf.data.Dataset.from_tensor_slices(
        (["the cat sat", "a dog"], ["on the mat", "ran"])
    ).batch(2)
    inputs = next(iter(texts.map(
        lambda a, b: T.task_inputs(T.ENTAILMENT, [a, b], tokenizer, 24)
    )))
    ids = inputs["token_ids"].numpy()[0, 0]
    premise = T.tokenize(tokenizer, tf.constant(["the cat sat"])).to_list()[0]
    hypothesis = T.tokenize(tokenizer, tf.constant(["on the mat"])).to_list()[0]
    expected = ([tokenizer.start_token_id] + premise + [tokenizer.delimiter_token_id]
                + hypothesis + [tokenizer.extract_token_id])
    assert ids[: len(expected)].tolist() == expected
    assert inputs["padding_mask"].numpy()[0, 0].sum() == len(expected)


def test_task_inputs_of_multiple_choice_strings(tokenizer):
    inputs = T.task_inputs(
        T.MULTIPLE_CHOICE,
        [tf.constant(["the cat"]), tf.constant([""])],
        tokenizer,
        24,
        answers=tf.constant([["sat", "ran", "the dog"]]),
    )
    assert inputs["token_ids"].shape[:2] == (1, 3)
    ends = inputs["padding_mask"].numpy().sum(-1) - 1
    for k in range(3):
        assert inputs["token_ids"].numpy()[0, k, ends[0, k]] == tokenizer.extract_token_id
