"""Fine-tuned task models: a SavedModel that reads raw strings and returns
label probabilities and names, and a builtin-ops `.tflite` over token ids,
both equal to the Keras model."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from export_models import CONTEXT
from fake_serving import FakePredictionService
from fake_serving import load_serving_client

import keras_gpt1
from keras_gpt1 import GPT1InputError
from keras_gpt1 import GPT1TaskModel
from keras_gpt1.data.task_files import TaskTable
from keras_gpt1.data.task_transforms import task_inputs
from keras_gpt1.export import LiteRTTaskModel
from keras_gpt1.export import export_litert
from keras_gpt1.export import export_saved_model
from keras_gpt1.training.task_evaluation import predict_task_model

LABELS = ["negative", "positive"]
TEXTS = ["A gripping, funny film.", "Dull.", "", "The cat sat on the mat " * 6]
CONTEXTS = ["The cat sat on the mat.", "A fox jumps."]
QUESTIONS = ["Where did it sit?", ""]
ANSWERS = [["on the mat", "on the log", "nowhere"], ["over the dog", "no", "yes"]]


def task_model(tokenizer, task, **kwargs):
    keras.utils.set_random_seed(1)
    backbone = keras_gpt1.GPT1Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
        hidden_dim=16, intermediate_dim=64, max_sequence_length=CONTEXT, dropout=0.0)
    return GPT1TaskModel(backbone, task, tokenizer=tokenizer, dropout=0.0, **kwargs)


def table(task, texts, choices=None):
    return TaskTable(path="test", task=task, texts=texts, choices=choices, labels=None,
                     rows=list(range(len(texts[0]))), text_columns=["text"],
                     label_column=None, choice_columns=["answers"] if choices else None)


@pytest.fixture(scope="module")
def classifier(tokenizer):
    return task_model(tokenizer, "classification", label_names=LABELS)


@pytest.fixture(scope="module")
def classifier_serving(classifier, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("task-serving") / "sentiment")
    result = export_saved_model(classifier, base)
    return result, tf.saved_model.load(result["path"])


@pytest.fixture(scope="module")
def classifier_bundles(classifier, tmp_path_factory):
    root = tmp_path_factory.mktemp("task-litert")
    return {q: export_litert(classifier, str(root / q), quantize=q)["path"]
            for q in ("none", "int8")}


def test_serving_default_returns_probabilities_and_label_names_of_keras(
        classifier, classifier_serving):
    result, loaded = classifier_serving
    assert result["outputs"]["serving_default"] == [
        "label", "label_names", "logits", "probabilities"]
    out = loaded.signatures["serving_default"](text=tf.constant(TEXTS))
    expected = predict_task_model(classifier, table("classification", [TEXTS]))
    for i, prediction in enumerate(expected):
        np.testing.assert_allclose(out["probabilities"].numpy()[i],
                                   [prediction["probabilities"][n] for n in LABELS],
                                   atol=1e-5, rtol=0)
        assert out["label"].numpy()[i].decode() == prediction["label"]
        assert [n.decode() for n in out["label_names"].numpy()[i]] == LABELS


def test_logits_signature_reads_the_models_own_inputs(classifier, classifier_serving):
    _, loaded = classifier_serving
    ids = np.array([[[5, 6, 7, 0]], [[8, 9, 0, 0]]], "int32")
    mask = np.array([[[1, 1, 1, 0]], [[1, 1, 0, 0]]], "int32")
    got = loaded.signatures["logits"](token_ids=tf.constant(ids),
                                      padding_mask=tf.constant(mask))["logits"]
    expected = classifier({"token_ids": ids, "padding_mask": mask})
    np.testing.assert_allclose(got.numpy(), np.asarray(expected), atol=1e-5, rtol=0)


def test_multiple_choice_serving_reads_a_batch_of_answer_lists(tokenizer, tmp_path):
    model = task_model(tokenizer, "multiple_choice")
    result = export_saved_model(model, str(tmp_path / "choice"))
    signature = tf.saved_model.load(result["path"]).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == [
        "answers", "context", "question"]
    out = signature(context=tf.constant(CONTEXTS), question=tf.constant(QUESTIONS),
                    answers=tf.constant(ANSWERS))
    logits = model(task_inputs("multiple_choice", [tf.constant(CONTEXTS),
                                                   tf.constant(QUESTIONS)],
                               tokenizer, CONTEXT, tf.constant(ANSWERS)))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5, rtol=0)
    assert list(out["choice"].numpy()) == list(expected.argmax(-1))


def test_task_tflite_float32_equals_keras_and_int8_stays_close(classifier,
                                                              classifier_bundles):
    expected = np.array([[p["probabilities"][n] for n in LABELS] for p in
                         predict_task_model(classifier, table("classification", [TEXTS]))])
    runner = LiteRTTaskModel(classifier_bundles["none"])
    assert runner.label_names == LABELS
    np.testing.assert_allclose(runner.run([TEXTS])["probabilities"], expected,
                               atol=1e-4, rtol=0)
    int8 = LiteRTTaskModel(classifier_bundles["int8"]).run([TEXTS])["probabilities"]
    assert np.abs(int8 - expected).max() < 0.05
    assert os.path.getsize(classifier_bundles["int8"]) < os.path.getsize(
        classifier_bundles["none"])


def test_similarity_tflite_runs_any_batch_and_length(tokenizer, tmp_path):
    model = task_model(tokenizer, "similarity", regression=True)
    runner = LiteRTTaskModel(export_litert(model, str(tmp_path / "sim"))["path"])
    assert runner.config["sequences"] == ["[s; text_a; $; text_b; e]",
                                          "[s; text_b; $; text_a; e]"]
    for a, b in ((TEXTS[:1], TEXTS[1:2]), (TEXTS, TEXTS[::-1])):
        inputs = runner.inputs([a, b])
        got = runner.run([a, b])
        np.testing.assert_allclose(got["score"], np.asarray(model(inputs))[:, 0],
                                   atol=1e-4, rtol=0)


def test_task_runner_checks_the_number_of_texts(classifier_bundles):
    with pytest.raises(GPT1InputError, match="reads 1 texts"):
        LiteRTTaskModel(classifier_bundles["none"]).run([TEXTS, TEXTS])


def test_serving_client_example_classifies_through_the_signature(
        classifier_serving, monkeypatch, capsys):
    pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    _, loaded = classifier_serving
    client = load_serving_client()
    service = FakePredictionService(loaded)
    monkeypatch.setattr(client, "open_stub", lambda server: service)
    client.main(["--model", "sentiment", "--input", f"text={TEXTS[0]}"])
    result = json.loads(capsys.readouterr().out)
    expected = loaded.signatures["serving_default"](text=tf.constant(TEXTS[:1]))
    assert result["label"] == [expected["label"].numpy()[0].decode()]
    assert result["label_names"] == [LABELS]
    np.testing.assert_allclose(result["probabilities"], expected["probabilities"].numpy(),
                               atol=1e-6, rtol=0)
