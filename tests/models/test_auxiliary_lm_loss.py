import numpy as np
from conftest import random_ids

from keras_gpt1.models.auxiliary_lm_loss import auxiliary_lm_loss


def _loss(backbone, ids, mask):
    hidden = backbone(ids)
    return float(auxiliary_lm_loss(backbone.token_embedding, ids, mask, hidden))


def test_lm_loss_covers_real_tokens_only(tiny_backbone):
    ids = random_ids(2, 12, seed=1)
    mask = np.ones_like(ids)
    mask[0, 7:] = 0
    mask[1, 10:] = 0
    expected = _loss(tiny_backbone, ids, mask)
    # Other padding ids, and more padding, change nothing.
    other = ids.copy()
    other[0, 7:] = 0
    other[1, 10:] = 5
    longer = np.concatenate([other, np.zeros((2, 6), "int32")], 1)
    longer_mask = np.concatenate([mask, np.zeros((2, 6), "int32")], 1)
    np.testing.assert_allclose(_loss(tiny_backbone, other, mask), expected, rtol=1e-6)
    np.testing.assert_allclose(_loss(tiny_backbone, longer, longer_mask), expected,
                               rtol=1e-6)


def test_lm_loss_is_the_mean_over_targets_not_over_rows(tiny_backbone):
    ids = random_ids(2, 10, seed=2)
    short = np.zeros_like(ids)
    short[0, :3] = 1  # 2 targets
    long = np.zeros_like(ids)
    long[1, :] = 1  # 9 targets
    a = _loss(tiny_backbone, ids, short)
    b = _loss(tiny_backbone, ids, long)
    both = _loss(tiny_backbone, ids, short + long)
    np.testing.assert_allclose(both, (2 * a + 9 * b) / 11, rtol=1e-5)


def test_lm_loss_of_a_batch_without_targets_is_zero(tiny_backbone):
    ids = random_ids(2, 6)
    mask = np.zeros_like(ids)
    mask[:, 0] = 1
    assert _loss(tiny_backbone, ids, mask) == 0.0
