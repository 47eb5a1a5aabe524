import keras
import numpy as np
import pytest
from conftest import assert_keras_round_trip

from keras_gpt1.layers import CausalSelfAttention
from keras_gpt1.layers import causal_mask


def _inputs(batch=2, length=6, width=8, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, width)).astype("float32")


def test_causal_mask_is_lower_triangular_int():
    mask = keras.ops.convert_to_numpy(causal_mask(4, 4))
    assert mask.dtype == np.int32
    np.testing.assert_array_equal(mask, np.tril(np.ones((4, 4), "int32")))


def test_causal_mask_with_query_offset_sees_the_cached_prefix():
    mask = keras.ops.convert_to_numpy(causal_mask(1, 5, query_start=2))
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0, 0]])


def test_output_at_t_ignores_inputs_after_t():
    layer = CausalSelfAttention(num_heads=2)
    x = _inputs()
    changed = x.copy()
    changed[:, 4:] += 10.0
    a, b = np.asarray(layer(x)), np.asarray(layer(changed))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)
    assert np.abs(a[:, 4:] - b[:, 4:]).max() > 1e-3


def test_fused_qkv_projection_shapes():
    layer = CausalSelfAttention(num_heads=2)
    layer(_inputs(width=8))
    assert tuple(layer.c_attn.kernel.shape) == (8, 24)
    assert tuple(layer.c_proj.kernel.shape) == (8, 8)


def test_padding_mask_hides_padded_keys():
    # Left padding: the real tokens come after the pads, so causality alone
    # would let them see the pads; only the padding mask hides them.
    layer = CausalSelfAttention(num_heads=2)
    x = _inputs(batch=1)
    mask = np.array([[0, 0, 0, 1, 1, 1]], "int32")
    changed = x.copy()
    changed[:, :3] = 5.0  # only padded positions change
    a = np.asarray(layer(x, padding_mask=mask))
    b = np.asarray(layer(changed, padding_mask=mask))
    np.testing.assert_allclose(a[:, 3:], b[:, 3:], atol=1e-6)
    unmasked = np.asarray(layer(changed))  # without the mask the pads leak in
    assert np.abs(unmasked[:, 3:] - a[:, 3:]).max() > 1e-3


def test_cached_step_by_step_equals_full_pass():
    layer = CausalSelfAttention(num_heads=2)
    x = _inputs(batch=2, length=5)
    full = np.asarray(layer(x))
    cache = (np.zeros((2, 5, 2, 4), "float32"), np.zeros((2, 5, 2, 4), "float32"))
    steps = []
    for t in range(5):
        out, cache = layer(x[:, t : t + 1], cache=cache, cache_update_index=t)
        steps.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)
    keys, values = cache  # one (batch, max_length, heads, head_dim) buffer each
    assert keys.shape == values.shape == (2, 5, 2, 4)


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="not divisible"):
        CausalSelfAttention(num_heads=3)(_inputs(width=8))


def test_attention_round_trips_through_keras_file(tmp_path):
    assert_keras_round_trip(CausalSelfAttention(num_heads=2, dropout=0.1), _inputs(), tmp_path)


def test_get_config_is_complete():
    layer = CausalSelfAttention(num_heads=4, dropout=0.25)
    clone = CausalSelfAttention.from_config(layer.get_config())
    assert (clone.num_heads, clone.dropout) == (4, 0.25)
