"""Appending the fine-tuning special tokens' embedding rows, N(0, 0.02)."""

import keras
import numpy as np
import pytest

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1InputError
from keras_gpt1.convert import add_special_token_rows

CONFIG = dict(vocabulary_size=40, num_layers=1, num_heads=2, hidden_dim=64,
              intermediate_dim=32, max_sequence_length=8, dropout=0.0)


@pytest.fixture(scope="module")
def backbone():
    keras.utils.set_random_seed(0)
    return GPT1Backbone(**CONFIG)


def test_new_rows_follow_the_old_ones_and_every_other_weight_is_copied(backbone):
    before = [np.asarray(w).copy() for w in backbone.weights]
    extended = add_special_token_rows(backbone, 3, seed=0)
    assert extended.vocabulary_size == 43 and backbone.vocabulary_size == 40
    rows = np.asarray(extended.token_embedding.embeddings)
    np.testing.assert_array_equal(rows[:40], before[0])
    for old, new in zip(before[1:], extended.weights[1:]):
        np.testing.assert_array_equal(old, np.asarray(new))
    for old, now in zip(before, backbone.weights):  # the input is untouched
        np.testing.assert_array_equal(old, np.asarray(now))
    ids = np.array([[1, 2, 3, 39]], "int32")
    np.testing.assert_allclose(np.asarray(extended(ids)), np.asarray(backbone(ids)),
                               atol=1e-6)


def test_new_rows_are_drawn_from_normal_0_002_reproducibly(backbone):
    a = np.asarray(add_special_token_rows(backbone, 50, seed=1).token_embedding.embeddings)[40:]
    b = np.asarray(add_special_token_rows(backbone, 50, seed=1).token_embedding.embeddings)[40:]
    c = np.asarray(add_special_token_rows(backbone, 50, seed=2).token_embedding.embeddings)[40:]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean()) < 0.002 and 0.018 < a.std() < 0.022  # 3,200 draws


def test_negative_count_is_an_input_error(backbone):
    with pytest.raises(GPT1InputError, match="num_tokens must be an integer >= 0"):
        add_special_token_rows(backbone, -1)
