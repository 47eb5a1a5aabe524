"""SavedModel for TF Serving: the signatures a server sees, and that each
gives what the Keras model gives."""

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import random_ids
from export_models import CONTEXT
from export_models import MAX_NEW_TOKENS
from export_models import PROMPTS
from export_models import make_end_token_reachable
from export_models import save_model_directory
from export_models import tiny_causal_lm
from fake_serving import FakePredictionService
from fake_serving import load_serving_client

from keras_gpt1 import GPT1InputError
from keras_gpt1.cli.main import main
from keras_gpt1.export import export_saved_model
from keras_gpt1.export import saved_model_writer
from keras_gpt1.export.saved_model_writer import WARMUP_DIR
from keras_gpt1.export.saved_model_writer import WARMUP_FILE
from keras_gpt1.export.saved_model_writer import prediction_log_bytes
from keras_gpt1.export.saved_model_writer import read_warmup_requests

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def causal_lm(tokenizer):
    return make_end_token_reachable(tiny_causal_lm(tokenizer))


@pytest.fixture(scope="module")
def export_summary(causal_lm, tmp_path_factory):
    """The `--json` summary of `keras-gpt1 export --format saved_model`."""
    root = tmp_path_factory.mktemp("serving")
    model_dir = save_model_directory(causal_lm, root / "model")
    base = str(root / "gpt1")
    with contextlib.redirect_stdout(io.StringIO()) as out:
        main(["export", "--model", model_dir, "--format", "saved_model", "--output", base,
              "--max-new-tokens", str(MAX_NEW_TOKENS), "--json"])
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved_model_base(export_summary):
    return os.path.dirname(export_summary["path"])


@pytest.fixture(scope="module")
def loaded_saved_model(saved_model_base):
    return tf.saved_model.load(os.path.join(saved_model_base, "1"))


def test_export_command_prints_its_summary(export_summary, saved_model_base):
    assert export_summary["path"] == os.path.join(saved_model_base, "1")
    assert export_summary["version"] == 1 and os.listdir(saved_model_base) == ["1"]
    assert export_summary["signatures"] == ["logits", "serving_default"]
    assert export_summary["max_new_tokens"] == MAX_NEW_TOKENS
    assert export_summary["warmup_requests"] == os.path.join(WARMUP_DIR, WARMUP_FILE)


def test_saved_model_cli_lists_named_signatures_with_dynamic_batch(saved_model_base):
    shown = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--all", "--dir", os.path.join(saved_model_base, "1")],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "signature_def['serving_default']" in shown
    assert "signature_def['logits']" in shown
    for name in ("inputs['prompts']", "inputs['token_ids']", "outputs['text']",
                 "outputs['completion']", "outputs['logits']"):
        assert name in shown
    assert "shape: (-1)" in shown  # prompts: any batch
    assert "shape: (-1, -1)" in shown  # token ids: any batch and length
    assert "tensorflow/serving/predict" in shown


def test_logits_signature_equals_keras_logits(causal_lm, loaded_saved_model):
    ids = random_ids(3, 11, causal_lm.backbone.vocabulary_size, seed=4)
    got = loaded_saved_model.signatures["logits"](token_ids=tf.constant(ids))["logits"]
    np.testing.assert_allclose(got.numpy(), np.asarray(causal_lm(ids)), atol=1e-5, rtol=0)


def test_serving_default_text_equals_greedy_generate(causal_lm, loaded_saved_model):
    out = loaded_saved_model.signatures["serving_default"](prompts=tf.constant(PROMPTS))
    texts = [t.decode("utf-8") for t in out["text"].numpy()]
    assert texts == causal_lm.generate(PROMPTS, max_new_tokens=MAX_NEW_TOKENS)
    new = out["num_new_tokens"].numpy()
    # The end token stops one row early while the others run to the budget.
    assert new.min() < MAX_NEW_TOKENS and new.max() == MAX_NEW_TOKENS
    for text, completion, prompt in zip(texts, out["completion"].numpy(), PROMPTS):
        assert text == prompt + completion.decode("utf-8")


def test_text_ending_inside_a_character_is_cut_the_same_in_keras_and_serving(
        tokenizer):
    from keras_gpt1.export.causal_lm_saved_model import valid_utf8
    from keras_gpt1.token_ids import detokenize_text

    # Byte-level BPE: "é" is the bytes C3 A9, shown as the symbols "Ã©".
    # Stop after the first byte, as a generation can: both sides drop the
    # incomplete character.
    cut = [int(i) for i in tokenizer(["caf"])[0]] + [tokenizer.token_to_id("Ã")]
    keras_text = detokenize_text(tokenizer, cut)
    serving_text = valid_utf8(tokenizer.detokenize([cut]))[0].numpy().decode("utf-8")
    assert keras_text == serving_text == "caf"


def test_serving_default_gives_each_row_what_it_gets_alone(causal_lm, loaded_saved_model):
    alone = [loaded_saved_model.signatures["serving_default"](prompts=tf.constant([p]))
             ["text"].numpy()[0] for p in PROMPTS[:2]]
    batch = loaded_saved_model.signatures["serving_default"](
        prompts=tf.constant(PROMPTS[:2]))["text"].numpy()
    assert list(batch) == alone


@pytest.mark.parametrize("prompts, message", [
    (["fine", ""], "prompt is empty"),
    (["word " * CONTEXT], "leaves no room"),
    ([], "no prompt given"),
])
def test_serving_default_rejects_bad_prompts_with_a_clear_message(
        loaded_saved_model, prompts, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded_saved_model.signatures["serving_default"](
            prompts=tf.constant(prompts, dtype=tf.string))


def test_logits_signature_rejects_out_of_range_ids(loaded_saved_model, causal_lm):
    ids = np.array([[1, causal_lm.backbone.vocabulary_size]], "int32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        loaded_saved_model.signatures["logits"](token_ids=tf.constant(ids))


def test_exported_graphs_need_no_xla_compiler(saved_model_base):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_base, "1", "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graph = proto.meta_graphs[0].graph_def
    functions = list(graph.library.function)
    assert functions
    for function in functions:
        assert not function.attr["_XlaMustCompile"].b
    op_types = {n.op for f in functions for n in f.node_def}
    # No op that needs the XLA compiler (TF Serving GPU has none).
    assert not {op for op in op_types if op.startswith("Xla")}


def test_warmup_requests_exist_and_parse_as_prediction_logs(saved_model_base):
    path = os.path.join(saved_model_base, "1", WARMUP_DIR, WARMUP_FILE)
    records = read_warmup_requests(path)
    assert len(records) == 2
    prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    signatures = []
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        signatures.append(request.model_spec.signature_name)
        assert set(request.inputs) in ({"prompts"}, {"token_ids"})
    assert sorted(signatures) == ["logits", "serving_default"]


def test_hand_encoded_warmup_request_equals_the_serving_api_one():
    prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    inputs = {"prompts": np.array(["Hello world", "é"], object),
              "token_ids": np.array([[1, 2, 300]], "int32")}
    by_hand = prediction_log_bytes("gpt1", "serving_default", inputs, use_serving_api=False)
    by_api = prediction_log_bytes("gpt1", "serving_default", inputs, use_serving_api=True)
    assert (prediction_log_pb2.PredictionLog.FromString(by_hand)
            == prediction_log_pb2.PredictionLog.FromString(by_api))


def test_versions_count_up_and_an_existing_version_is_refused(saved_model_base):
    assert saved_model_writer.resolve_version(saved_model_base) == 2
    with pytest.raises(GPT1InputError, match="version 1 already exists"):
        saved_model_writer.resolve_version(saved_model_base, 1)


def test_failed_export_leaves_no_partial_version(causal_lm, tmp_path, monkeypatch):
    def fail(module, path, signatures=None, options=None):
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", fail)
    base = tmp_path / "serving"
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(causal_lm, str(base))
    assert not base.exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"max_length": CONTEXT + 1}, "max length must be between 2"),
    ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
    ({"version": 0}, "version must be an integer >= 1"),
])
def test_bad_export_options_raise_before_writing(causal_lm, tmp_path, kwargs, message):
    with pytest.raises(GPT1InputError, match=message):
        export_saved_model(causal_lm, str(tmp_path / "serving"), **kwargs)
    assert not (tmp_path / "serving").exists()


def test_serving_client_example_generates_what_keras_generates(
        causal_lm, loaded_saved_model, monkeypatch, capsys):
    pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    client = load_serving_client()
    service = FakePredictionService(loaded_saved_model)
    expected = causal_lm.generate(PROMPTS[:2], max_new_tokens=MAX_NEW_TOKENS)
    assert client.generate(service, "gpt1", PROMPTS[:2]) == expected
    monkeypatch.setattr(client, "open_stub", lambda server: service)
    client.main(["--model", "gpt1", "--prompt", PROMPTS[0]])
    assert json.loads(capsys.readouterr().out)["text"] == expected[:1]
    client.main(["--model", "gpt1", "--token-ids", "5", "6", "7"])
    logits = np.array(json.loads(capsys.readouterr().out)["logits"])
    np.testing.assert_allclose(logits, np.asarray(causal_lm(np.array([[5, 6, 7]]))),
                               atol=1e-5, rtol=0)
    assert service.requests[-1].model_spec.signature_name == "logits"
    with pytest.raises(ValueError, match="non-empty"):
        client.generate(service, "gpt1", ["ok", ""])
