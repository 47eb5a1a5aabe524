import numpy as np
import pytest

from keras_gpt1 import GPT1InputError
from keras_gpt1.data.task_files import TaskTable
from keras_gpt1.data.task_labels import CHOICE_LABELS
from keras_gpt1.data.task_labels import CLASS_LABELS
from keras_gpt1.data.task_labels import SCORE_LABELS
from keras_gpt1.data.task_labels import encode_labels
from keras_gpt1.data.task_labels import label_kind
from keras_gpt1.data.task_labels import label_names_of


def table(labels, choices=None, task="classification"):
    return TaskTable(path="f.tsv", task=task, texts=[["x"] * len(labels)],
                     choices=choices, labels=labels,
                     rows=list(range(2, 2 + len(labels))), text_columns=["sentence"],
                     label_column="label", choice_columns=None)


def test_integer_labels_sort_numerically_and_strings_alphabetically():
    assert label_names_of(table(["10", "2", "1", 2])) == ["1", "2", "10"]
    assert label_names_of(table(["neutral", "entailment", "contradiction"])) == [
        "contradiction", "entailment", "neutral"]


def test_class_labels_map_to_their_index_among_the_names():
    ids = encode_labels(table(["b", "a", "b"]), CLASS_LABELS, ["a", "b"])
    np.testing.assert_array_equal(ids, [1, 0, 1])


def test_label_not_seen_in_training_names_file_row_and_column():
    with pytest.raises(GPT1InputError,
                       match=r"f\.tsv: row 3, column 'label': label 'c' was not seen"):
        encode_labels(table(["a", "c"]), CLASS_LABELS, ["a", "b"])


def test_scores_are_float_columns_and_non_numbers_are_errors():
    scores = encode_labels(table(["1.5", 3]), SCORE_LABELS)
    assert scores.shape == (2, 1) and scores.dtype == np.float32
    with pytest.raises(GPT1InputError, match=r"row 2, column 'label': label 'x'"):
        encode_labels(table(["x"]), SCORE_LABELS)


def test_answers_are_indices_or_letters_within_the_choices():
    choices = [["p", "q", "r"]] * 3
    ids = encode_labels(table([2, "B", "0"], choices), CHOICE_LABELS)
    np.testing.assert_array_equal(ids, [2, 1, 0])
    with pytest.raises(GPT1InputError, match=r"row 2, column 'label': label '3'"):
        encode_labels(table(["3"], [["p", "q", "r"]]), CHOICE_LABELS)


def test_label_kind_of_each_task():
    assert label_kind("classification") == CLASS_LABELS
    assert label_kind("similarity") == CLASS_LABELS
    assert label_kind("similarity", regression=True) == SCORE_LABELS
    assert label_kind("regression") == SCORE_LABELS
    assert label_kind("multiple_choice") == CHOICE_LABELS
