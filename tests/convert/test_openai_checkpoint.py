"""OpenAI's original release layout (`params_shapes.json` + 10 `.npy`
shards) -> the same Keras weights as the Hugging Face layout."""

import json
import os

import numpy as np
import pytest
from gpt1_checkpoint_files import TINY
from gpt1_checkpoint_files import tiny_checkpoint_weights
from gpt1_checkpoint_files import write_hf_checkpoint
from gpt1_checkpoint_files import write_openai_release

from keras_gpt1 import GPT1InputError
from keras_gpt1.convert import convert_checkpoint
from keras_gpt1.convert import load_checkpoint
from keras_gpt1.convert.openai_checkpoint import infer_architecture
from keras_gpt1.convert.openai_checkpoint import read_shapes


@pytest.fixture
def release(tmp_path):
    weights, config = tiny_checkpoint_weights(seed=4)
    return write_openai_release(tmp_path / "openai", weights, TINY["n_layer"]), weights, config


def assert_nothing_written(output):
    parent = os.path.dirname(os.path.abspath(output))
    assert not os.path.exists(output)
    assert not [f for f in os.listdir(parent) if ".partial" in f]


def test_original_release_gives_the_same_keras_weights_as_hugging_face_layout(tmp_path, release):
    source, weights, config = release
    hf_source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    from_openai = load_checkpoint(source, "openai", num_heads=TINY["n_head"])
    from_hf = load_checkpoint(hf_source, "huggingface")
    config_a, config_b = from_openai.backbone.get_config(), from_hf.backbone.get_config()
    config_a.pop("name"), config_b.pop("name")
    assert config_a == config_b
    assert len(from_openai.weights) == len(from_hf.weights) == 2 + 12 * TINY["n_layer"]
    for a, b in zip(from_openai.weights, from_hf.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    ids = [[1, 2, 3], [4, 5, 6]]
    assert from_openai.tokenizer(["the cat"]).to_list() == from_hf.tokenizer(["the cat"]).to_list()
    np.testing.assert_array_equal(np.asarray(from_openai(np.array(ids))),
                                  np.asarray(from_hf(np.array(ids))))


def test_architecture_is_inferred_from_the_shapes(release):
    source, _, config = release
    architecture = infer_architecture(read_shapes(source), num_heads=2)
    assert (architecture.vocabulary_size, architecture.num_layers, architecture.hidden_dim,
            architecture.intermediate_dim, architecture.max_sequence_length) == (
        config["vocab_size"], TINY["n_layer"], TINY["n_embd"], 4 * TINY["n_embd"],
        TINY["n_positions"])


def test_default_of_twelve_heads_is_an_input_error_for_a_width_it_does_not_divide(release, tmp_path):
    source, _, _ = release  # width 32 is not divisible by 12
    with pytest.raises(GPT1InputError, match="not divisible by 12 heads"):
        load_checkpoint(source, "openai")


def test_missing_shard_is_an_input_error_and_nothing_is_written(release, tmp_path):
    source, _, _ = release
    os.remove(os.path.join(source, "params_3.npy"))
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match="missing shard params_3.npy"):
        convert_checkpoint(source, output, "openai", num_heads=2)
    assert_nothing_written(output)


def test_wrong_shard_count_is_an_input_error(release, tmp_path):
    source, _, _ = release
    np.save(os.path.join(source, "params_10.npy"), np.zeros(3, np.float32))
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match="has 11 shards params_.*the release has 10"):
        convert_checkpoint(source, output, "openai", num_heads=2)
    assert_nothing_written(output)


def test_shards_whose_total_size_does_not_match_the_shapes_are_an_input_error(release, tmp_path):
    source, _, _ = release
    shard = np.load(os.path.join(source, "params_9.npy"))
    np.save(os.path.join(source, "params_9.npy"), shard[:-1])
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match=r"hold \d+ values but params_shapes.json needs \d+"):
        convert_checkpoint(source, output, "openai", num_heads=2)
    assert_nothing_written(output)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s[:-1], r"25 tensors; a GPT-1 has 2 \+ 12 per block"),
        (lambda s: s[:6] + [[31]] + s[7:], r"entry 6 \(h0/ln_1/g\) is \[31\], expected \[32\]"),
        (lambda s: s[:2] + [[32, 96]] + s[3:], r"entry 2 \(h0/attn/c_attn/w\) is \[32, 96\], expected \[1, 32, 96\]"),
        (lambda s: [[16, 32, 1]] + s[1:], r"expected positions \(n, d\)"),
    ],
)
def test_shapes_that_do_not_form_a_gpt1_are_an_input_error(release, tmp_path, edit, message):
    source, _, _ = release
    path = os.path.join(source, "params_shapes.json")
    with open(path) as f:
        shapes = json.load(f)
    with open(path, "w") as f:
        json.dump(edit(shapes), f)
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match=message) as e:
        convert_checkpoint(source, output, "openai", num_heads=2)
    assert "\n" not in str(e.value)
    assert_nothing_written(output)


def test_pickled_shard_is_refused_without_unpickling(release):
    source, _, _ = release
    np.save(os.path.join(source, "params_0.npy"), np.array([{"a": 1}], dtype=object),
            allow_pickle=True)
    with pytest.raises(GPT1InputError, match="params_0.npy holds pickled Python objects"):
        load_checkpoint(source, "openai", num_heads=2)
