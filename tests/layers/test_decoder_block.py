import keras
import numpy as np
import numpy_reference
from conftest import assert_keras_round_trip

from keras_gpt1.layers import GPT1DecoderBlock


def _randomize(layer, seed=1):
    """Non-trivial weights (zero biases and unit gains would hide bugs)."""
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        value = rng.normal(size=v.shape) * 0.3
        if v.path.endswith("gamma"):
            value += 1.0
        v.assign(value.astype("float32"))


def test_block_matches_numpy_reference_of_the_paper():
    block = GPT1DecoderBlock(num_heads=2, intermediate_dim=32, dropout=0.0)
    x = np.random.default_rng(0).normal(size=(2, 7, 8)).astype("float32")
    block(x)
    _randomize(block)
    got = np.asarray(block(x))
    ref = numpy_reference.block(
        x.astype("float64"), numpy_reference.block_params_from_keras(block), 2
    )
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_block_matches_keras_hub_post_ln_transformer_decoder():
    # keras-hub's decoder with normalize_first=False is post-LN like GPT-1;
    # copy our weights into it (split fused QKV) and compare outputs.
    import keras_hub

    block = GPT1DecoderBlock(num_heads=2, intermediate_dim=32, dropout=0.0)
    x = np.random.default_rng(3).normal(size=(2, 5, 8)).astype("float32")
    block(x)
    _randomize(block, seed=4)
    hub = keras_hub.layers.TransformerDecoder(
        intermediate_dim=32,
        num_heads=2,
        dropout=0.0,
        activation=lambda t: keras.activations.gelu(t, approximate=True),
        layer_norm_epsilon=1e-5,
        normalize_first=False,
    )
    hub(x)
    attn = hub._self_attention_layer
    qkv_w = np.asarray(block.attn.c_attn.kernel).reshape(8, 3, 2, 4)
    qkv_b = np.asarray(block.attn.c_attn.bias).reshape(3, 2, 4)
    for i, dense in enumerate((attn._query_dense, attn._key_dense, attn._value_dense)):
        dense.kernel.assign(qkv_w[:, i])
        dense.bias.assign(qkv_b[i])
    attn._output_dense.kernel.assign(np.asarray(block.attn.c_proj.kernel).reshape(2, 4, 8))
    attn._output_dense.bias.assign(block.attn.c_proj.bias)
    hub._self_attention_layer_norm.gamma.assign(block.ln_1.gamma)
    hub._self_attention_layer_norm.beta.assign(block.ln_1.beta)
    hub._feedforward_intermediate_dense.kernel.assign(block.c_fc.kernel)
    hub._feedforward_intermediate_dense.bias.assign(block.c_fc.bias)
    hub._feedforward_output_dense.kernel.assign(block.c_proj.kernel)
    hub._feedforward_output_dense.bias.assign(block.c_proj.bias)
    hub._feedforward_layer_norm.gamma.assign(block.ln_2.gamma)
    hub._feedforward_layer_norm.beta.assign(block.ln_2.beta)
    np.testing.assert_allclose(np.asarray(block(x)), np.asarray(hub(x)), atol=1e-5)


def test_block_is_post_layernorm_with_unit_scale_output():
    # Post-LN: every output position is LayerNorm'd (mean 0, variance 1).
    block = GPT1DecoderBlock(num_heads=2, intermediate_dim=32, dropout=0.0)
    out = np.asarray(block(np.random.default_rng(0).normal(size=(1, 4, 8)).astype("float32") * 5))
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.var(-1), 1.0, atol=1e-3)


def test_dropout_only_in_training():
    block = GPT1DecoderBlock(num_heads=2, intermediate_dim=32, dropout=0.5)
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    np.testing.assert_array_equal(np.asarray(block(x)), np.asarray(block(x)))
    assert np.abs(np.asarray(block(x, training=True)) - np.asarray(block(x))).max() > 1e-3


def test_block_round_trips_through_keras_file(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    block = GPT1DecoderBlock(num_heads=2, intermediate_dim=32, dropout=0.1)
    loaded = assert_keras_round_trip(block, x, tmp_path, atol=1e-6)
    config = loaded.layers[-1].get_config()
    assert config["intermediate_dim"] == 32 and config["layer_norm_epsilon"] == 1e-5
