"""`export --format transformers`: Hugging Face's `OpenAIGPTLMHeadModel`
loads what the project writes and computes the same logits; `pipeline`
generates what Keras generates; either tokenizer comes back with equal
ids (needs the `reference` extra: transformers and torch)."""

import contextlib
import io
import json
import os

import keras
import numpy as np
import pytest
from conftest import TINY_CONFIG
from export_models import save_model_directory

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1InputError
from keras_gpt1.cli.main import main
from keras_gpt1.export import export_transformers
from keras_gpt1.token_ids import token_id_lists

torch = pytest.importorskip(
    "torch", reason="needs the 'reference' extra (torch)", exc_type=ImportError
)
transformers = pytest.importorskip(
    "transformers", reason="needs the 'reference' extra (transformers)",
    exc_type=ImportError,
)

TEXTS = ["The cat sat on the mat.", "Numbers like 12, 345;  spaces\tand\nlines",
         "Accents: café, naïve. <|endoftext|> and more"]


@pytest.fixture(scope="module")
def causal_lm(tokenizer):
    keras.utils.set_random_seed(0)
    config = {**TINY_CONFIG, "vocabulary_size": tokenizer.vocabulary_size()}
    lm = GPT1CausalLM(GPT1Backbone(**config), tokenizer=tokenizer)
    rng = np.random.default_rng(3)
    for v in lm.weights:  # far from the initialisation, biases included
        values = np.asarray(v)
        v.assign((values + 0.05 * rng.normal(size=values.shape)).astype("float32"))
    return lm


@pytest.fixture(scope="module")
def exported(causal_lm, tmp_path_factory):
    """The `--json` summary of `keras-gpt1 export --format transformers`."""
    root = tmp_path_factory.mktemp("transformers")
    model_dir = save_model_directory(causal_lm, root / "model")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        main(["export", "--model", model_dir, "--format", "transformers",
              "--output", str(root / "hf"), "--json"])
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_the_directory_holds_what_from_pretrained_reads(exported):
    assert sorted(os.listdir(exported["path"])) == [
        "config.json", "generation_config.json", "model.safetensors",
        "tokenizer.json", "tokenizer_config.json"]
    assert exported["format"] == "transformers"


def test_openai_gpt_lm_head_model_computes_the_keras_logits(exported, causal_lm):
    hf = transformers.OpenAIGPTLMHeadModel.from_pretrained(exported["path"]).eval()
    ids = np.random.default_rng(0).integers(
        0, causal_lm.backbone.vocabulary_size, (2, TINY_CONFIG["max_sequence_length"]))
    with torch.no_grad():
        expected = hf(torch.tensor(ids, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(np.asarray(causal_lm(ids.astype("int32"))), expected,
                               atol=1e-4, rtol=0)


def test_auto_tokenizer_gives_the_byte_level_ids(exported, tokenizer):
    hf = transformers.AutoTokenizer.from_pretrained(exported["path"])
    for text, ids in zip(TEXTS, token_id_lists(tokenizer, TEXTS)):
        assert hf(text)["input_ids"] == ids


def test_pipeline_generates_what_keras_generates(exported, causal_lm):
    generator = transformers.pipeline("text-generation", model=exported["path"])
    got = generator("The cat", max_new_tokens=6, do_sample=False)[0]["generated_text"]
    assert got == causal_lm.generate("The cat", max_new_tokens=6, stop_token_ids=None)


def test_gpt1_own_tokenizer_goes_back_as_vocab_and_merges(tmp_path):
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "convert",
                        "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_tf_checkpoints", path)
    checkpoints = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checkpoints)
    weights, config = checkpoints.tiny_checkpoint_weights()
    source = checkpoints.write_hf_checkpoint(tmp_path / "hf", weights, config)
    lm = GPT1CausalLM.from_preset(source)
    out = export_transformers(lm, str(tmp_path / "back"))
    assert {"vocab.json", "merges.txt"} <= set(out["files"])
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out["path"])
    text = "the cat, and the hat!"
    assert hf_tokenizer(text)["input_ids"] == token_id_lists(lm.tokenizer, [text])[0]
    hf = transformers.OpenAIGPTLMHeadModel.from_pretrained(out["path"]).eval()
    original = transformers.OpenAIGPTLMHeadModel.from_pretrained(source).eval()
    ids = torch.tensor([[3, 5, 7, 9]])
    with torch.no_grad():
        np.testing.assert_array_equal(hf(ids).logits.numpy(), original(ids).logits.numpy())


def test_what_transformers_cannot_hold_is_refused(causal_lm, tmp_path):
    narrow = GPT1CausalLM(GPT1Backbone(**{**TINY_CONFIG, "intermediate_dim": 32}),
                          tokenizer=causal_lm.tokenizer)
    with pytest.raises(GPT1InputError, match="MLP of 4 x the width"):
        export_transformers(narrow, str(tmp_path / "narrow"))
    assert not os.path.exists(tmp_path / "narrow")
