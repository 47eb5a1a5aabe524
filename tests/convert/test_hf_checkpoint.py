"""Hugging Face `openai-gpt` layout -> GPT1CausalLM, checked against the
NumPy reference (no PyTorch needed: the checkpoint is written with
`safetensors.numpy`)."""

import json
import os
import pickle

import numpy as np
import pytest
from gpt1_checkpoint_files import TINY
from gpt1_checkpoint_files import tiny_checkpoint_weights
from gpt1_checkpoint_files import write_hf_checkpoint
from numpy_reference import lm_logits

from keras_gpt1 import GPT1InputError
from keras_gpt1.convert import convert_checkpoint
from keras_gpt1.convert import load_checkpoint
from keras_gpt1.tokenizers import OpenAIGPTTokenizer

REFERENCE_NAMES = {  # numpy_reference's names for a block's tensors
    "c_attn_w": "attn.c_attn.weight", "c_attn_b": "attn.c_attn.bias",
    "attn_proj_w": "attn.c_proj.weight", "attn_proj_b": "attn.c_proj.bias",
    "ln_1_g": "ln_1.weight", "ln_1_b": "ln_1.bias",
    "c_fc_w": "mlp.c_fc.weight", "c_fc_b": "mlp.c_fc.bias",
    "mlp_proj_w": "mlp.c_proj.weight", "mlp_proj_b": "mlp.c_proj.bias",
    "ln_2_g": "ln_2.weight", "ln_2_b": "ln_2.bias",
}


def reference_logits(weights, ids):
    w = {k.removeprefix("transformer."): v.astype(np.float64) for k, v in weights.items()}
    blocks = [
        {ref: w[f"h.{i}.{hf}"] for ref, hf in REFERENCE_NAMES.items()}
        for i in range(TINY["n_layer"])
    ]
    return lm_logits(ids, w["tokens_embed.weight"], w["positions_embed.weight"],
                     blocks, TINY["n_head"])


def random_ids(vocab_size, batch=3, length=TINY["n_positions"], seed=1):
    return np.random.default_rng(seed).integers(0, vocab_size, (batch, length)).astype("int32")


def assert_nothing_written(output):
    parent = os.path.dirname(os.path.abspath(output))
    assert not os.path.exists(output)
    assert not [f for f in os.listdir(parent) if ".partial" in f]


def test_converted_logits_equal_the_numpy_reference(tmp_path):
    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    model = load_checkpoint(source, "huggingface")
    ids = random_ids(config["vocab_size"])
    got = np.asarray(model(ids))
    np.testing.assert_allclose(got, reference_logits(weights, ids), atol=1e-4, rtol=0)
    assert isinstance(model.tokenizer, OpenAIGPTTokenizer)


def test_keys_without_prefix_stale_mask_buffers_and_tied_head_are_accepted(tmp_path):
    weights, config = tiny_checkpoint_weights()
    plain = {k.removeprefix("transformer."): v for k, v in weights.items()}
    plain["h.0.attn.bias"] = np.tril(np.ones((1, 1, 16, 16), np.float32))
    plain["h.1.attn.masked_bias"] = np.array(-1e4, np.float32)
    plain["lm_head.weight"] = plain["tokens_embed.weight"].copy()
    source = write_hf_checkpoint(tmp_path / "hf", plain, config)
    model = load_checkpoint(source, "huggingface")
    ids = random_ids(config["vocab_size"], seed=2)
    np.testing.assert_allclose(np.asarray(model(ids)), reference_logits(weights, ids),
                               atol=1e-4, rtol=0)


def test_converted_directory_loads_back_with_the_same_logits_and_tokenizer(tmp_path):
    from keras_gpt1 import artifacts

    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    output = str(tmp_path / "out")
    summary = convert_checkpoint(source, output, "huggingface")
    assert summary["source_format"] == "huggingface"
    assert summary["num_layers"] == TINY["n_layer"]
    assert summary["vocabulary_size"] == config["vocab_size"]
    assert sorted(os.listdir(output)) == ["merges.txt", "model.keras", "summary.json", "vocab.json"]
    model = artifacts.load_model(output)
    ids = random_ids(config["vocab_size"], seed=3)
    np.testing.assert_allclose(np.asarray(model(ids)), reference_logits(weights, ids),
                               atol=1e-4, rtol=0)
    assert model.tokenizer(["the cat, and he."]).to_list() == \
        OpenAIGPTTokenizer.from_directory(source)(["the cat, and he."]).to_list()
    assert model.backbone.layer_norm_epsilon == config["layer_norm_epsilon"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_embd": 48}, "does not match tokens_embed.weight"),
        ({"vocab_size": 61}, "does not match tokens_embed.weight"),
        ({"n_layer": 3}, "n_layer=3 but the weights have 2 blocks"),
        ({"n_positions": 17}, "positions_embed.weight has shape [16, 32], expected [17, 32]"),
        ({"n_head": 5}, "not divisible by 5 heads"),
        ({"afn": "relu"}, "afn 'relu'"),
        ({"model_type": "gpt2"}, "'gpt2' model"),
    ],
)
def test_config_that_does_not_match_the_weights_is_an_input_error(tmp_path, change, message):
    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, {**config, **change})
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match=message.replace("[", r"\[").replace("]", r"\]")) as e:
        convert_checkpoint(source, output, "huggingface")
    assert "\n" not in str(e.value)
    assert_nothing_written(output)


def test_missing_or_misshaped_tensor_is_an_input_error(tmp_path):
    weights, config = tiny_checkpoint_weights()
    del weights["transformer.h.1.ln_2.bias"]
    source = write_hf_checkpoint(tmp_path / "a", weights, config)
    with pytest.raises(GPT1InputError, match="missing tensor h.1.ln_2.bias"):
        load_checkpoint(source, "huggingface")

    weights, config = tiny_checkpoint_weights()
    weights["transformer.h.0.attn.c_attn.weight"] = weights["transformer.h.0.attn.c_attn.weight"].T.copy()
    source = write_hf_checkpoint(tmp_path / "b", weights, config)
    with pytest.raises(GPT1InputError, match=r"h.0.attn.c_attn.weight has shape \[96, 32\], expected \[32, 96\]"):
        load_checkpoint(source, "huggingface")


def test_untied_lm_head_is_an_input_error(tmp_path):
    weights, config = tiny_checkpoint_weights()
    weights["lm_head.weight"] = weights["transformer.tokens_embed.weight"] + 1.0
    source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    with pytest.raises(GPT1InputError, match="lm_head.weight differs"):
        load_checkpoint(source, "huggingface")


class _WouldRunCode:
    """Unpickling this makes a directory: proof that nothing is unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def test_pytorch_bin_pickle_is_refused_unopened_with_how_to_convert(tmp_path):
    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    os.remove(os.path.join(source, "model.safetensors"))
    canary = str(tmp_path / "unpickled")
    with open(os.path.join(source, "pytorch_model.bin"), "wb") as f:
        pickle.dump(_WouldRunCode(canary), f)
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match="pytorch_model.bin is a pickle") as e:
        convert_checkpoint(source, output, "huggingface")
    assert "safe_serialization=True" in str(e.value)
    assert not os.path.exists(canary)
    assert_nothing_written(output)
    with pytest.raises(GPT1InputError, match="is a pickle"):
        load_checkpoint(os.path.join(source, "pytorch_model.bin"), "huggingface")


def test_missing_tokenizer_files_and_existing_output_are_input_errors(tmp_path):
    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, config, tokenizer=False)
    with pytest.raises(GPT1InputError, match="no tokenizer files"):
        convert_checkpoint(source, str(tmp_path / "out"), "huggingface")
    (tmp_path / "exists").mkdir()
    with pytest.raises(GPT1InputError, match="output already exists"):
        convert_checkpoint(source, str(tmp_path / "exists"), "huggingface")


def test_tokenizer_that_does_not_fit_the_embedding_is_an_input_error(tmp_path):
    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    with open(os.path.join(source, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    vocab["extra</w>"] = len(vocab)
    with open(os.path.join(source, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    output = str(tmp_path / "out")
    with pytest.raises(GPT1InputError, match="token embedding has 63 rows"):
        convert_checkpoint(source, output, "huggingface")
    assert_nothing_written(output)
