import numpy as np
import pytest

from keras_gpt1 import GPT1InputError
from keras_gpt1.data.task_dataset import encode_table
from keras_gpt1.data.task_dataset import task_dataset
from keras_gpt1.data.task_files import TaskTable


def table(texts, task="classification", choices=None):
    return TaskTable(path="f.tsv", task=task, texts=texts, choices=choices,
                     labels=None, rows=list(range(2, 2 + len(texts[0]))),
                     text_columns=["premise", "hypothesis"][: len(texts)],
                     label_column=None, choice_columns=["choices"])


def test_batches_hold_transformed_padded_ids_and_labels(tokenizer):
    encoded = encode_table(table([["the cat", "a dog ran", "the fox"]]), tokenizer, 24)
    labels = np.array([0, 1, 0], "int32")
    inputs, y = next(iter(task_dataset(encoded, tokenizer, 24, 2, labels=labels)))
    assert inputs["token_ids"].shape[:2] == (2, 1)
    ids = inputs["token_ids"].numpy()[0, 0]
    assert ids[0] == tokenizer.start_token_id
    assert ids[inputs["padding_mask"].numpy()[0, 0].sum() - 1] == tokenizer.extract_token_id
    np.testing.assert_array_equal(y, [0, 1])


def test_training_batches_repeat_and_are_full(tokenizer):
    encoded = encode_table(table([["a", "b", "c"]]), tokenizer, 24)
    dataset = task_dataset(encoded, tokenizer, 24, 2, labels=np.zeros(3, "int32"),
                           shuffle=True, repeat=True)
    sizes = [int(x["token_ids"].shape[0]) for x, _ in dataset.take(5)]
    assert sizes == [2] * 5


def test_row_that_cannot_fit_the_context_names_file_row_and_column(tokenizer):
    long = "the cat sat on the mat " * 4
    rows = table([["ok", long], ["fine", long]], task="entailment")
    with pytest.raises(GPT1InputError,
                       match=r"f\.tsv: row 3, column 'premise': the row needs at least 11"):
        encode_table(rows, tokenizer, 10)
    encode_table(rows, tokenizer, 11)  # the same rows fit one token later
