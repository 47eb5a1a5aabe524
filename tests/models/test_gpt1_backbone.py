import keras
import numpy as np
import numpy_reference
import pytest
from conftest import TINY_CONFIG
from conftest import assert_keras_round_trip
from conftest import random_ids

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1InputError

GPT1_PARAMETERS = 116_534_784  # the original release (params_shapes.json)


def test_gpt1_preset_has_exactly_the_original_parameter_count():
    assert GPT1Backbone.from_preset("gpt1").count_params() == GPT1_PARAMETERS


def test_tiny_preset_builds_and_maps_ids_to_hidden_states():
    backbone = GPT1Backbone.from_preset("tiny")
    assert backbone(random_ids(2, 16, 8000)).shape == (2, 16, 256)


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(GPT1InputError, match="unknown preset 'gpt-9'"):
        GPT1Backbone.from_preset("gpt-9")


def test_initialization_is_normal_002_with_zero_biases(tiny_backbone):
    emb = np.asarray(GPT1Backbone.from_preset("tiny").token_embedding.embeddings)
    assert abs(emb.std() - 0.02) < 1e-3
    biases = [np.asarray(v) for v in tiny_backbone.weights if v.path.endswith("bias")]
    assert biases and all(np.all(b == 0) for b in biases)


def test_no_layernorm_after_the_stack(tiny_backbone):
    names = [v.path for v in tiny_backbone.weights if "gamma" in v.path]
    assert len(names) == 2 * TINY_CONFIG["num_layers"]  # ln_1, ln_2 per block only


def test_hidden_at_t_ignores_tokens_after_t(tiny_backbone):
    ids = random_ids(2, 12)
    changed = ids.copy()
    changed[:, 7:] = (changed[:, 7:] + 1) % TINY_CONFIG["vocabulary_size"]
    a, b = np.asarray(tiny_backbone(ids)), np.asarray(tiny_backbone(changed))
    np.testing.assert_allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert np.abs(a[:, 7:] - b[:, 7:]).max() > 1e-4


def test_backbone_round_trips_through_keras_file(tiny_backbone, tmp_path):
    assert_keras_round_trip(tiny_backbone, random_ids(2, 10), tmp_path)


def test_check_token_ids_rejects_out_of_range_and_overlong(tiny_backbone):
    with pytest.raises(GPT1InputError, match="token id 300 is out of range"):
        tiny_backbone.check_token_ids(np.array([[1, 300]]))
    with pytest.raises(GPT1InputError, match="token id -1 is out of range"):
        tiny_backbone.check_token_ids(np.array([[-1, 2]]))
    with pytest.raises(GPT1InputError, match="longer than the context of 24"):
        tiny_backbone.check_token_ids(np.zeros((1, 25), "int32"))


def test_full_model_matches_numpy_reference():
    keras.utils.set_random_seed(1)
    backbone = GPT1Backbone(**TINY_CONFIG)
    ids = random_ids(2, 9, seed=2)
    from keras_gpt1 import GPT1CausalLM

    lm = GPT1CausalLM(backbone)
    rng = np.random.default_rng(5)
    for v in lm.weights:  # non-trivial biases and gains
        if len(v.shape) == 1:
            v.assign((rng.normal(size=v.shape) * 0.1 + (1.0 if "gamma" in v.path else 0.0)).astype("float32"))
    blocks = [numpy_reference.block_params_from_keras(b) for b in backbone.transformer_layers]
    ref = numpy_reference.lm_logits(
        ids,
        np.asarray(backbone.token_embedding.embeddings, "float64"),
        np.asarray(backbone.position_embedding.position_embeddings, "float64"),
        blocks,
        TINY_CONFIG["num_heads"],
    )
    np.testing.assert_allclose(np.asarray(lm(ids)), ref, atol=1e-4)




def test_mixed_precision_runs_the_tied_lm_head_in_the_compute_dtype(tiny_backbone):
    """Under mixed_bfloat16 the LM head is a bfloat16 matmul like every other
    also inside a model's call (the fast path of the benchmark), within
    bfloat16 rounding of float32; float32 models keep a float32 head."""
    from keras.src.backend import AutocastScope  # what a mixed model's call opens

    ids = random_ids(2, 10)
    hidden = tiny_backbone(ids)
    reference = np.asarray(tiny_backbone.token_embedding(hidden, reverse=True))
    assert tiny_backbone.token_embedding.reverse_dtype is None
    mixed = GPT1Backbone.from_config({**tiny_backbone.get_config(),
                                      "dtype": "mixed_bfloat16"})
    mixed.set_weights(tiny_backbone.get_weights())
    with AutocastScope("bfloat16"):
        logits = mixed.token_embedding(mixed(ids), reverse=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "bfloat16"
    # bfloat16 keeps 8 bits of mantissa: logits within ~3% of the largest.
    scale = np.abs(reference).max()
    np.testing.assert_allclose(np.asarray(logits, "float32"), reference, atol=0.03 * scale)
