"""What keras-hub users do with a CausalLM, on GPT-1: compile with a
sampler, generate from text, fit on raw strings, LoRA, int8, dtypes and
presets (save_to_preset / from_preset, keras-hub's base-class loaders,
Hugging Face checkpoints converted on the fly)."""

import contextlib
import importlib.util
import io
import os

import keras
import keras_hub
import numpy as np
import pytest
from conftest import TINY_CONFIG
from conftest import random_ids

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1CausalLMPreprocessor
from keras_gpt1 import GPT1InputError
from keras_gpt1.convert import load_checkpoint


def _checkpoint_files():
    path = os.path.join(os.path.dirname(__file__), "..", "convert",
                        "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_hub_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def lm(tokenizer):
    keras.utils.set_random_seed(0)
    backbone = GPT1Backbone(**{**TINY_CONFIG, "vocabulary_size": tokenizer.vocabulary_size()})
    return GPT1CausalLM(backbone, tokenizer=tokenizer)


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory):
    checkpoints = _checkpoint_files()
    weights, config = checkpoints.tiny_checkpoint_weights()
    return checkpoints.write_hf_checkpoint(tmp_path_factory.mktemp("hf"), weights, config)


def _ids(lm, batch=2, length=7):
    return random_ids(batch, length, lm.backbone.vocabulary_size)


# === generate ===

def test_generate_takes_a_string_a_list_and_a_dict(lm):
    text = lm.generate("The cat", max_length=12)
    assert isinstance(text, str) and text.startswith("The cat")
    texts = lm.generate(["The cat", "A dog sat"], max_length=12)
    assert texts[0] == text and texts[1].startswith("A dog sat")
    packed = lm.preprocessor.generate_preprocess(["The cat"], sequence_length=12)
    out = lm.generate({k: np.asarray(v) for k, v in packed.items()}, stop_token_ids=None)
    np.testing.assert_array_equal(out["token_ids"][0][: len(lm.tokenizer("The cat"))],
                                  np.asarray(lm.tokenizer("The cat")))
    assert out["token_ids"].shape == (1, 12) and out["padding_mask"].all()


def test_max_length_counts_prompt_and_continuation(lm):
    prompt_ids = list(np.asarray(lm.tokenizer("The cat")))
    ids = lm.generate([np.array(prompt_ids)], max_length=10, stop_token_ids=None)[0]
    assert len(ids) == 10 and list(ids[: len(prompt_ids)]) == prompt_ids


def test_strip_prompt_returns_the_continuation_only(lm):
    full = lm.generate("The cat", max_length=12)
    tail = lm.generate("The cat", max_length=12, strip_prompt=True)
    assert full == "The cat" + tail


def test_stop_token_ids_end_each_row(lm):
    ids = lm.generate([np.array([5, 6, 7])], max_new_tokens=6, stop_token_ids=None)[0]
    stop = int(ids[4])  # the second generated token
    cut = lm.generate([np.array([5, 6, 7])], max_new_tokens=6, stop_token_ids=[stop])[0]
    np.testing.assert_array_equal(cut, ids[: list(ids[3:]).index(stop) + 3])


def test_compile_takes_a_sampler_name_or_object(lm):
    greedy = lm.generate("The cat", max_new_tokens=5)
    lm.compile(sampler="greedy")
    assert lm.generate("The cat", max_new_tokens=5) == greedy
    lm.compile(sampler=keras_hub.samplers.BeamSampler(num_beams=2))
    beam = lm.generate("The cat", max_new_tokens=5)
    assert beam.startswith("The cat")
    lm.compile(sampler="top_k")
    assert isinstance(lm.sampler, keras_hub.samplers.TopKSampler)
    assert lm.generate("The cat", max_new_tokens=5, sampler="greedy") == greedy


def test_an_unknown_sampler_name_is_one_line(lm):
    with pytest.raises(GPT1InputError, match=r"^unknown sampler 'nucleus'; choose one"):
        lm.compile(sampler="nucleus")
    with pytest.raises(GPT1InputError, match=r"^unknown sampler 'nucleus'"):
        lm.generate("The cat", sampler="nucleus")


# === fit on text, summary ===

def test_fit_and_evaluate_on_raw_strings(lm):
    texts = ["The cat sat on the mat."] * 8
    lm.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = lm.evaluate(texts, batch_size=4, verbose=0, return_dict=True)
    lm.fit(texts, batch_size=4, epochs=8, verbose=0)
    after = lm.evaluate(texts, batch_size=4, verbose=0, return_dict=True)
    assert set(after) == {"loss", "perplexity"}
    assert after["loss"] < 0.7 * before["loss"]


def test_preprocessor_adds_no_start_token_and_ends_with_the_end_token(tokenizer):
    preprocessor = GPT1CausalLMPreprocessor(tokenizer, sequence_length=8)
    ids = [int(i) for i in tokenizer("The cat")]
    x, y, weights = preprocessor(["The cat"])
    assert list(np.asarray(x["token_ids"])[0][: len(ids)]) == ids
    assert int(np.asarray(y)[0][len(ids) - 1]) == tokenizer.end_token_id
    packed = preprocessor.generate_preprocess(["The cat"])
    assert list(np.asarray(packed["token_ids"])[0][: len(ids)]) == ids


def test_summary_lists_the_preprocessor_and_the_blocks(lm):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        lm.summary()
    text = out.getvalue()
    assert "gpt1_causal_lm_preprocessor" in text and "gpt1_backbone" in text


# === LoRA ===

def test_lora_trains_only_the_low_rank_factors_and_round_trips(lm, tmp_path, tokenizer):
    lm.backbone.enable_lora(4)
    trainable = sorted(v.path for v in lm.trainable_weights)
    assert trainable and all("c_attn" in p for p in trainable)
    assert any(p.endswith("lora_kernel_a") for p in trainable)
    frozen = {v.path: np.asarray(v) for v in lm.backbone.weights if "lora" not in v.path}
    lm.compile(optimizer=keras.optimizers.Adam(1e-2))
    lm.fit(["The cat sat on the mat."] * 4, batch_size=2, epochs=1, verbose=0)
    for v in lm.backbone.weights:
        if v.path in frozen and "c_attn/bias" not in v.path:
            np.testing.assert_array_equal(np.asarray(v), frozen[v.path])
    path = str(tmp_path / "adapter.lora.h5")
    lm.backbone.save_lora_weights(path)
    keras.utils.set_random_seed(0)  # the same base weights as the fixture
    fresh = GPT1CausalLM(GPT1Backbone(**{**TINY_CONFIG, "vocabulary_size":
                                         tokenizer.vocabulary_size()}), tokenizer=tokenizer)
    trained = {v.path: v for v in lm.backbone.weights}
    for v in fresh.backbone.weights:
        if "c_attn/bias" in v.path:
            v.assign(trained[v.path])  # keras-hub's LoRA leaves biases trainable
    fresh.backbone.load_lora_weights(path)
    ids = _ids(lm)
    np.testing.assert_allclose(np.asarray(fresh(ids)), np.asarray(lm(ids)), atol=1e-6)


def test_a_lora_file_of_another_rank_is_a_one_line_error(lm, tmp_path):
    lm.backbone.enable_lora(4)
    path = str(tmp_path / "adapter.lora.h5")
    lm.backbone.save_lora_weights(path)
    other = GPT1CausalLM(GPT1Backbone(**{**TINY_CONFIG, "vocabulary_size":
                                         lm.backbone.vocabulary_size}))
    other.backbone.enable_lora(8)
    with pytest.raises(GPT1InputError, match=r"rank=4.*rank=8"):
        other.backbone.load_lora_weights(path)


# === int8 and dtypes ===

def test_int8_quantizes_the_tied_embedding_and_survives_save_and_load(lm, tmp_path):
    ids = _ids(lm)
    before = np.asarray(lm(ids))
    lm.quantize("int8")
    assert lm.backbone.token_embedding.quantization_mode == "int8"
    assert lm.backbone.transformer_layers[0].attn.c_attn.quantization_mode == "int8"
    after = np.asarray(lm(ids))
    assert 0 < np.abs(after - before).max() < 0.05  # quantized, and close
    path = str(tmp_path / "int8.keras")
    lm.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(ids)), after)
    assert loaded.generate("The cat", max_new_tokens=4) == lm.generate("The cat", max_new_tokens=4)
    lm.save_to_preset(str(tmp_path / "preset"))
    from_preset = GPT1CausalLM.from_preset(str(tmp_path / "preset"))
    np.testing.assert_array_equal(np.asarray(from_preset(ids)), after)


def test_dtype_is_kept_through_keras_file_and_preset(tmp_path, tokenizer):
    lm = GPT1CausalLM.from_preset("tiny", dtype="bfloat16", tokenizer=tokenizer,
                                  vocabulary_size=tokenizer.vocabulary_size())
    assert lm.backbone.compute_dtype == "bfloat16"
    lm.save(str(tmp_path / "bf16.keras"))
    assert keras.saving.load_model(str(tmp_path / "bf16.keras")).backbone.compute_dtype \
        == "bfloat16"
    lm.save_to_preset(str(tmp_path / "preset"))
    assert GPT1CausalLM.from_preset(str(tmp_path / "preset")).backbone.compute_dtype \
        == "bfloat16"
    assert GPT1Backbone.from_preset(str(tmp_path / "preset")).compute_dtype == "bfloat16"


# === presets ===

def test_built_in_names_build_fresh_architectures():
    assert sorted(GPT1Backbone.presets) == ["gpt1", "tiny"]
    a = GPT1Backbone.from_preset("tiny", vocabulary_size=50)
    b = GPT1Backbone.from_preset("tiny", vocabulary_size=50)
    assert a.vocabulary_size == 50 and a.num_layers == 4
    assert not np.array_equal(np.asarray(a.token_embedding.embeddings),
                              np.asarray(b.token_embedding.embeddings))  # random


def test_save_to_preset_and_every_from_preset_give_the_same_model(lm, tmp_path):
    preset = str(tmp_path / "preset")
    lm.save_to_preset(preset)
    assert {"config.json", "model.weights.h5", "task.json", "tokenizer.json",
            "preprocessor.json", "metadata.json"} <= set(os.listdir(preset))
    ids = _ids(lm)
    expected = np.asarray(lm(ids))
    for loaded in (GPT1CausalLM.from_preset(preset),
                   keras_hub.models.CausalLM.from_preset(preset)):
        assert isinstance(loaded, GPT1CausalLM)
        np.testing.assert_array_equal(np.asarray(loaded(ids)), expected)
        assert loaded.generate("The cat", max_new_tokens=4) == \
            lm.generate("The cat", max_new_tokens=4)
    for backbone in (GPT1Backbone.from_preset(preset),
                     keras_hub.models.Backbone.from_preset(preset)):
        np.testing.assert_array_equal(np.asarray(backbone(ids)), np.asarray(lm.backbone(ids)))
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    assert tokenizer.vocabulary == lm.tokenizer.vocabulary


def test_a_hugging_face_checkpoint_loads_as_convert_does(hf_checkpoint, tmp_path):
    """Against transformers' own model of the same files (the independent
    reference), then against `convert`."""
    torch = pytest.importorskip("torch", reason="needs the reference extra",
                                exc_type=ImportError)
    transformers = pytest.importorskip("transformers", reason="needs the reference extra",
                                       exc_type=ImportError)
    lm = GPT1CausalLM.from_preset(hf_checkpoint)
    converted = load_checkpoint(hf_checkpoint, "huggingface")
    ids = random_ids(2, 9, converted.backbone.vocabulary_size)
    reference = transformers.OpenAIGPTLMHeadModel.from_pretrained(hf_checkpoint).eval()
    with torch.no_grad():
        expected = reference(torch.tensor(ids, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(np.asarray(lm(ids)), expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(np.asarray(lm(ids)), np.asarray(converted(ids)))
    assert type(lm.tokenizer).__name__ == "OpenAIGPTTokenizer"
    assert lm.generate("the cat", max_new_tokens=3, stop_token_ids=None) == \
        converted.generate("the cat", max_new_tokens=3, stop_token_ids=None)
    backbone = GPT1Backbone.from_preset(hf_checkpoint)
    np.testing.assert_array_equal(np.asarray(backbone(ids)),
                                  np.asarray(converted.backbone(ids)))
    lm.save_to_preset(str(tmp_path / "from_hf"))  # and on as a keras-hub preset
    again = keras_hub.models.CausalLM.from_preset(str(tmp_path / "from_hf"))
    np.testing.assert_array_equal(np.asarray(again(ids)), np.asarray(lm(ids)))


def test_from_preset_on_something_else_is_a_one_line_error(tmp_path, hf_checkpoint):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GPT1InputError, match=r"^.*empty is neither a preset"):
        GPT1CausalLM.from_preset(str(empty))
    other = tmp_path / "gpt2"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(GPT1InputError, match=r"is for a 'gpt2' model, not 'openai-gpt'"):
        GPT1CausalLM.from_preset(str(other))
    with pytest.raises(GPT1InputError, match=r"^unknown preset 'gpt-9'"):
        GPT1CausalLM.from_preset("gpt-9")
