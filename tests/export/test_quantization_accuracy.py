"""What LiteRT's float16 and int8 cost, on models trained inside the test
until they are clearly better than chance (random weights give
near-constant outputs that any quantization preserves): a small LM's
held-out perplexity, and a classifier's accuracy. The full-size version
of these figures is `benchmarks/quantization_accuracy.py`."""

import os

import keras
import numpy as np
import pytest
from conftest import CORPUS_LINES
from export_models import trained_causal_lm
from task_data import NEGATIVE
from task_data import POSITIVE

import keras_gpt1
from keras_gpt1 import GPT1TaskModel
from keras_gpt1.export import LiteRTCausalLM
from keras_gpt1.export import LiteRTTaskModel
from keras_gpt1.export import export_litert
from keras_gpt1.token_ids import detokenize_text
from keras_gpt1.token_ids import token_id_lists

CONTEXT = 64


def log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def perplexity(logits, window):
    return float(np.exp(np.mean(
        -log_softmax(logits[:-1])[np.arange(len(window) - 1), window[1:]])))


@pytest.fixture(scope="module")
def lm(tokenizer):
    return trained_causal_lm(tokenizer, CORPUS_LINES, context=CONTEXT)


@pytest.fixture(scope="module")
def held_out(lm):
    """Text the model did not train on, in the corpus's style."""
    lines = [line.replace("cat", "dog").replace("quick", "lazy") + " 7"
             for line in CORPUS_LINES if line]
    ids = np.concatenate([np.asarray(r, "int32") for r in token_id_lists(
        lm.tokenizer, [line + "\n" for line in lines])])
    return ids[:CONTEXT]


@pytest.fixture(scope="module")
def gated_runners(lm, held_out, tmp_path_factory):
    """`{quantization: (bundle config, runner)}` of files exported with
    the held-out window as the quality gate's text."""
    text = detokenize_text(lm.tokenizer, held_out)
    root = tmp_path_factory.mktemp("gated")
    exported = {}
    for quantize in ("float16", "int8"):
        config = export_litert(lm, str(root / quantize), quantize=quantize, gate_text=text)
        exported[quantize] = (config, LiteRTCausalLM(config["path"]))
    return text, exported


def teacher_forced_perplexity(runner, window):
    cache, rows = runner.initial_cache(), []
    for position, token in enumerate(window):
        logits, cache = runner.decode(int(token), position, cache)
        rows.append(logits)
    return perplexity(np.stack(rows), window)


def test_int8_and_float16_keep_a_trained_lm_s_perplexity(lm, held_out, gated_runners):
    text, exported = gated_runners
    assert list(token_id_lists(lm.tokenizer, [text])[0]) == held_out.tolist()
    keras_ppl = perplexity(np.asarray(lm(held_out[None]))[0], held_out)
    assert keras_ppl < lm.backbone.vocabulary_size / 20  # it learned something
    for quantize, tolerance in (("float16", 0.001), ("int8", 0.02)):
        config, runner = exported[quantize]
        got = teacher_forced_perplexity(runner, held_out)
        assert abs(got / keras_ppl - 1) < tolerance, (quantize, got, keras_ppl)
        # The export's quality gate measured the same window, and passed.
        gate = config["quality_gate"]
        assert gate["perplexity_float32"] == pytest.approx(keras_ppl, rel=1e-5)
        assert gate["perplexity"] == pytest.approx(got, rel=1e-5)
        assert gate["scored_tokens"] == len(held_out) - 1
        assert gate["passed"] and abs(gate["perplexity_change"]) <= 0.01
        assert gate["greedy_prompts"] == 4 and 0 < gate["greedy_tokens"] <= 32
        assert 0 <= gate["greedy_identical"] <= 4


def test_the_gate_catches_a_file_whose_logits_drift(lm, held_out, gated_runners):
    from keras_gpt1.export import quality_gate

    _, exported = gated_runners
    runner = exported["int8"][1]

    class Drifting:  # int8 with noise of the size of a broken quantization
        max_length = runner.max_length

        def initial_cache(self):
            return runner.initial_cache()

        def decode(self, token, position, cache):
            logits, cache = runner.decode(token, position, cache)
            noise = np.random.default_rng(position).normal(0, 1.0, logits.shape)
            return logits + noise.astype("float32"), cache

    figures = quality_gate.measure(lm, Drifting(), held_out)
    assert not figures["passed"] and figures["perplexity_change"] > 0.05
    assert figures["top1_agreement"] < 1.0
    clean = quality_gate.measure(lm, runner, held_out)
    assert clean["passed"] and clean["perplexity"] < figures["perplexity"]


def test_a_file_that_fails_the_gate_is_written_with_a_warning_that_gives_the_figures(
        lm, gated_runners, tmp_path, monkeypatch, capsys):
    from keras_gpt1.export import quality_gate

    text, exported = gated_runners
    monkeypatch.setattr(quality_gate, "PERPLEXITY_TOLERANCE", 1e-9)  # int8 moves it more
    config = export_litert(lm, str(tmp_path / "int8"), quantize="int8", gate_text=text)
    gate = config["quality_gate"]
    assert not gate["passed"] and os.path.isfile(config["path"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"keras-gpt1: warning: {quality_gate.describe(gate)}"]
    assert err[0].startswith("keras-gpt1: warning: int8 FAILS the quality gate: "
                             "held-out perplexity ")
    assert f"{100 * gate['perplexity_change']:+.2f}%" in err[0]
    assert gate["perplexity"] == exported["int8"][0]["quality_gate"]["perplexity"]


def test_a_gate_text_too_short_is_refused_before_anything_is_written(lm, tmp_path):
    from keras_gpt1 import GPT1InputError

    with pytest.raises(GPT1InputError, match="the gate text has 1 tokens"):
        export_litert(lm, str(tmp_path / "int8"), quantize="int8", gate_text="The")
    assert os.listdir(tmp_path) == []


def test_int8_keeps_a_trained_classifier_s_accuracy(tokenizer, tmp_path):
    rng = np.random.default_rng(0)

    def sentences(n):
        labels = rng.integers(0, 2, n)
        words = [rng.choice(POSITIVE if y else NEGATIVE, 5) for y in labels]
        return [" ".join(["the", *w]) for w in words], labels

    keras.utils.set_random_seed(0)
    backbone = keras_gpt1.GPT1Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
        hidden_dim=32, intermediate_dim=128, max_sequence_length=CONTEXT, dropout=0.0)
    model = GPT1TaskModel(backbone, "classification", label_names=["neg", "pos"],
                          tokenizer=tokenizer, dropout=0.0, lm_loss_weight=0.0)
    from keras_gpt1.data.task_transforms import task_inputs

    def inputs(texts):
        import tensorflow as tf

        return {k: np.asarray(v) for k, v in task_inputs(
            "classification", [tf.constant(texts)], tokenizer, CONTEXT).items()}

    train_texts, train_labels = sentences(256)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(inputs(train_texts), train_labels, batch_size=32, epochs=6, verbose=0)
    test_texts, test_labels = sentences(200)
    keras_predictions = np.asarray(model.predict(inputs(test_texts), verbose=0)).argmax(-1)
    keras_accuracy = np.mean(keras_predictions == test_labels)
    assert keras_accuracy >= 0.9  # clearly better than chance
    runner = LiteRTTaskModel(export_litert(model, str(tmp_path / "int8"),
                                           quantize="int8")["path"])
    int8_predictions = np.asarray(runner.run([test_texts])["probabilities"]).argmax(-1)
    assert abs(np.mean(int8_predictions == test_labels) - keras_accuracy) <= 0.01
    assert np.mean(int8_predictions == keras_predictions) >= 0.98
