"""Token ids from outside (the Python API, exported signatures) are checked
where they enter: an id outside `[0, vocabulary_size)` raises a clear error
instead of reading a row of zeros (an embedding lookup on GPU) or wrapping
round to the last row (a negative id)."""

import importlib.util
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gpt1
from keras_gpt1 import GPT1InputError
from keras_gpt1 import plots
from keras_gpt1.export import LiteRTCausalLM
from keras_gpt1.export import export_litert
from keras_gpt1.export import export_saved_model
from keras_gpt1.tokenizers import OpenAIGPTTokenizer

CONTEXT = 16


def _backbone(tokenizer):
    keras.utils.set_random_seed(0)
    return keras_gpt1.GPT1Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=CONTEXT, dropout=0.0)


@pytest.fixture(scope="module")
def causal_lm(tokenizer):
    model = keras_gpt1.GPT1CausalLM(_backbone(tokenizer), tokenizer)
    model.jit_compile_generate = False
    return model


@pytest.fixture(scope="module")
def vocabulary_size(causal_lm):
    return causal_lm.backbone.vocabulary_size


@pytest.fixture(scope="module")
def litert_runner(causal_lm, tmp_path_factory):
    bundle = tmp_path_factory.mktemp("litert") / "bundle"
    return LiteRTCausalLM(export_litert(causal_lm, str(bundle), max_length=8)["path"])


@pytest.fixture(scope="module")
def task_logits(tokenizer, tmp_path_factory):
    """The `logits` signature of a classifier's SavedModel."""
    model = keras_gpt1.GPT1TaskModel(_backbone(tokenizer), "classification",
                                     label_names=["neg", "pos"], tokenizer=tokenizer,
                                     dropout=0.0)
    base = tmp_path_factory.mktemp("serving") / "classifier"
    path = export_saved_model(model, str(base))["path"]
    return tf.saved_model.load(path).signatures["logits"]


@pytest.fixture(scope="module")
def openai_tokenizer(tmp_path_factory):
    path = os.path.join(os.path.dirname(__file__), "..", "convert",
                        "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_reliability_checkpoints", path)
    checkpoints = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checkpoints)
    directory = tmp_path_factory.mktemp("openai_tokenizer")
    checkpoints.write_tokenizer_files(str(directory))
    return OpenAIGPTTokenizer.from_directory(str(directory))


BAD_IDS = [pytest.param("vocabulary_size", id="id_equal_to_vocabulary_size"),
           pytest.param(-1, id="negative_id")]


def _bad(bad, vocabulary_size):
    return vocabulary_size if bad == "vocabulary_size" else bad


def _message(bad, vocabulary_size):
    return rf"token id {bad} is out of range \[0, {vocabulary_size}\)"


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("call", [
    lambda runner, ids: runner.generate_ids(ids, max_new_tokens=2),
    lambda runner, ids: runner.prefill(ids),
    lambda runner, ids: runner.decode(ids[-1], 0, runner.initial_cache()),
], ids=["generate_ids", "prefill", "decode"])
def test_litert_runner_rejects_out_of_range_ids(litert_runner, vocabulary_size, call, bad):
    bad = _bad(bad, vocabulary_size)
    with pytest.raises(GPT1InputError, match=_message(bad, vocabulary_size)):
        call(litert_runner, [5, bad])


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("detokenize", [
    lambda lm, runner, ids: lm.tokenizer.detokenize([ids]),
    lambda lm, runner, ids: lm.tokenizer.detokenize(tf.ragged.constant([ids])),
    lambda lm, runner, ids: runner.detokenize(ids),
], ids=["gpt1_tokenizer", "gpt1_tokenizer_ragged_tensor", "litert_runner"])
def test_detokenize_rejects_out_of_range_ids(causal_lm, litert_runner, vocabulary_size,
                                            detokenize, bad):
    bad = _bad(bad, vocabulary_size)
    with pytest.raises(GPT1InputError, match=_message(bad, vocabulary_size)):
        detokenize(causal_lm, litert_runner, [5, bad])


@pytest.mark.parametrize("bad", BAD_IDS)
def test_openai_tokenizer_detokenize_rejects_out_of_range_ids(openai_tokenizer, bad):
    vocabulary_size = openai_tokenizer.vocabulary_size()
    bad = _bad(bad, vocabulary_size)
    with pytest.raises(GPT1InputError, match=_message(bad, vocabulary_size)):
        openai_tokenizer.detokenize([[5, bad]])


def test_ids_in_range_still_detokenize(causal_lm, litert_runner):
    ids = [int(i) for i in causal_lm.tokenizer(["The cat sat"])[0]]
    (text,) = causal_lm.tokenizer.detokenize([ids])
    assert (text.decode() if isinstance(text, bytes) else text) == "The cat sat"
    assert litert_runner.detokenize(ids) == "The cat sat"


def test_keras_generate_rejects_a_negative_id(causal_lm):
    # (an id >= the vocabulary size: tests/models/test_gpt1_causal_lm.py)
    with pytest.raises(GPT1InputError, match=_message(-1, causal_lm.backbone.vocabulary_size)):
        causal_lm.generate([np.array([5, -1])], max_new_tokens=2)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_attention_maps_reject_out_of_range_ids(causal_lm, vocabulary_size, bad):
    bad = _bad(bad, vocabulary_size)
    with pytest.raises(GPT1InputError, match=_message(bad, vocabulary_size)):
        plots.attention_maps(causal_lm, [5, bad], layer=0, head=0)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_task_saved_model_logits_reject_out_of_range_ids(task_logits, vocabulary_size, bad):
    bad = _bad(bad, vocabulary_size)
    ids = tf.constant([[[5, bad]]], tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="token id out of range"):
        task_logits(token_ids=ids, padding_mask=tf.ones_like(ids))


@pytest.mark.parametrize("bad", BAD_IDS)
def test_keras_model_call_rejects_out_of_range_ids(causal_lm, vocabulary_size, bad):
    bad = _bad(bad, vocabulary_size)
    with pytest.raises(GPT1InputError, match=_message(bad, vocabulary_size)):
        causal_lm(np.array([[5, bad]], "int32"))
