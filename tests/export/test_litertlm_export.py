"""`export --format litertlm`: one file that Google's LiteRT-LM runtime
runs (its own tokenizer, prefill/decode loop and sampler), with greedy text
equal to Keras's for both tokenizers, and the tied embedding stored once
(needs `litert-lm`, installed by CI)."""

import contextlib
import importlib.util
import io
import json
import os

import numpy as np
import pytest
from conftest import CORPUS_LINES
from export_models import trained_causal_lm

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1InputError
from keras_gpt1.cli.main import main
from keras_gpt1.export import LiteRTLMCausalLM
from keras_gpt1.export import export_litertlm
from keras_gpt1.token_ids import token_id_lists
from keras_gpt1.tokenizers.hf_tokenizer_json import hf_tokenizer

pytest.importorskip("litert_lm", reason="needs LiteRT-LM (pip install litert-lm)",
                    exc_type=ImportError)

CONTEXT = 64
# Varied text: Unicode, digits, runs of spaces and newlines, special tokens.
TOKENIZER_TEXTS = [
    "The cat sat on the mat.", "  two leading spaces", "trailing spaces   ",
    "multiple    spaces   between\twords", "new\n\nlines\r\nand\ttabs",
    "digits 12345 and 3.14159, 1,000,000", "café naïve résumé — “quotes” …",
    "日本語のテキスト and 中文", "emoji 😀👍🏽", "it's I'm we'll they've don't",
    "  \nX  \n\n y", "a\u2028b\u0085c\u2003's", "<|endoftext|> and <|pad|>x",
    "Ελληνικά ΣΑΣ σ ς русский", "$100 + 5% = <tag> ^caret^ `tick` |pipe|",
]
PROMPTS = [
    "The cat sat",
    "Language models",
    "A",
    # Longer than the largest prefill signature (32 tokens).
    "A quick brown fox jumps over the lazy dog; the fox is quick. The cat "
    "sat on the mat. The dog sat on the log. Pre-training on unlabeled text",
]


def _checkpoint_files():
    path = os.path.join(os.path.dirname(__file__), "..", "convert",
                        "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_litertlm_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained_lm(tokenizer):
    return trained_causal_lm(tokenizer, CORPUS_LINES, context=CONTEXT)


@pytest.fixture(scope="module")
def files(trained_lm, tmp_path_factory):
    root = tmp_path_factory.mktemp("litertlm")
    return {q: export_litertlm(trained_lm, str(root / f"lm-{q}.litertlm"), quantize=q)
            for q in ("none", "int8")}


@pytest.fixture(scope="module")
def runner(files):
    return LiteRTLMCausalLM(files["none"]["path"])


def test_the_file_holds_prefill_lengths_decode_and_metadata(files):
    summary = files["none"]
    assert summary["signatures"] == ["prefill_8", "prefill_32", "decode"]
    assert summary["max_length"] == CONTEXT and summary["stop_token_id"] == 1
    from litert_lm_builder.litertlm_peek import peek_litertlm_file

    text = io.StringIO()
    peek_litertlm_file(summary["path"], None, text)
    text = text.getvalue()
    for section in ("TFLiteModel", "LlmMetadata", "ExecutorMetadata", "HF_Tokenizer"):
        assert section in text, section
    assert "sequence_axis: 1" in text and "max_num_tokens: 64" in text


@pytest.mark.parametrize("prompt", PROMPTS)
def test_lite_rt_lm_greedy_text_equals_keras(runner, trained_lm, prompt):
    expected = trained_lm.generate(prompt, max_new_tokens=12, strip_prompt=True)
    assert runner.generate(prompt, max_new_tokens=12, strip_prompt=True) == expected


def test_a_session_to_the_end_of_the_cache_stops_there(runner, trained_lm):
    prompt = PROMPTS[-1]
    expected = trained_lm.generate(prompt, max_new_tokens=CONTEXT, strip_prompt=True)
    got = runner.generate(prompt, max_new_tokens=CONTEXT, strip_prompt=True)
    assert got == expected
    assert len(trained_lm.tokenizer(prompt + got)) <= CONTEXT


def test_int8_file_generates_what_its_runner_reads(files, trained_lm):
    int8 = LiteRTLMCausalLM(files["int8"]["path"])
    text = int8.generate(PROMPTS[0], max_new_tokens=12)
    assert text.startswith(PROMPTS[0]) and len(text) > len(PROMPTS[0])


def test_the_int8_file_passed_the_quality_gate_and_says_so(files):
    from keras_gpt1.export.litert_runtime import read_litertlm_system_metadata
    from keras_gpt1.export.quality_gate import describe

    gate = files["int8"]["quality_gate"]
    assert gate["passed"] and gate["quantization"] == "int8"
    assert abs(gate["perplexity_change"]) <= 0.01 and gate["scored_tokens"] > 100
    assert files["none"]["quality_gate"] is None  # float32 is the reference
    metadata = read_litertlm_system_metadata(files["int8"]["path"])
    assert metadata["keras_gpt1_quality_gate"] == describe(gate)
    assert "keras_gpt1_quality_gate" not in read_litertlm_system_metadata(
        files["none"]["path"])


def test_tokenizer_json_ids_equal_the_in_graph_tokenizer(runner, tokenizer):
    expected = token_id_lists(tokenizer, TOKENIZER_TEXTS)
    hf = hf_tokenizer(tokenizer)
    for text, ids in zip(TOKENIZER_TEXTS, expected):
        assert hf.encode(text).ids == ids, text
        assert runner.tokenize(text) == ids, text


def test_gpt1_own_tokenizer_runs_in_lite_rt_lm(tmp_path):
    checkpoints = _checkpoint_files()
    weights, config = checkpoints.tiny_checkpoint_weights()
    source = checkpoints.write_hf_checkpoint(tmp_path / "hf", weights, config)
    lm = GPT1CausalLM.from_preset(source)
    path = export_litertlm(lm, str(tmp_path / "openai.litertlm"))["path"]
    runtime = LiteRTLMCausalLM(path)
    texts = ["the cat, and the hat!", "The Cat  AND\tthe hat.", "café the cat"]
    for text, ids in zip(texts, token_id_lists(lm.tokenizer, texts)):
        assert runtime.tokenize(text) == ids, text
        assert hf_tokenizer(lm.tokenizer).encode(text).ids == ids, text
    for prompt in ("the cat", "the hat and the cat and the"):  # 2 and 9 tokens
        expected = lm.generate(prompt, max_new_tokens=5, stop_token_ids=None,
                               strip_prompt=True)
        got = runtime.generate(prompt, max_new_tokens=5, strip_prompt=True)
        assert got.split() == expected.split(), prompt  # `</w>` decoding: words


def quantization_positions(tflite):
    """`{buffer index: {offsets of the quantization tables of the tensors
    reading it}}` over every signature's subgraph, for per-channel tensors."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(tflite, 0)
    positions = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            parameters = tensor.Quantization()
            if parameters is not None and parameters.ScaleLength() > 1:
                positions.setdefault(tensor.Buffer(), set()).add(parameters._tab.Pos)
    return positions


def test_the_tied_embedding_and_quantization_parameters_are_stored_once(trained_lm):
    from tensorflow.lite.tools import flatbuffer_utils

    from keras_gpt1.export.causal_lm_litert import CausalLMLiteRTModule
    from keras_gpt1.export.litert_conversion import convert_module

    backbone = trained_lm.backbone
    table_bytes = backbone.vocabulary_size * backbone.hidden_dim
    module = CausalLMLiteRTModule(trained_lm, CONTEXT, {"prefill_8": 8})
    for quantize, item_bytes in (("none", 4), ("int8", 1)):
        tflite = convert_module(module, quantize,
                                tied_vocabulary_size=backbone.vocabulary_size)
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
        tables = [b for b in model.buffers
                  if b.data is not None and len(b.data) == table_bytes * item_bytes]
        assert len(tables) == 1, quantize
        # Every weight once: the file is about the parameters' bytes.
        assert len(tflite) < 1.3 * backbone.count_params() * item_bytes + 60_000
    # Both signatures read each per-channel int8 weight; one table of
    # scales and zero points serves them all.
    positions = quantization_positions(tflite)
    assert len(positions) == 4 * backbone.num_layers  # c_attn, c_proj, c_fc, c_proj
    assert all(len(p) == 1 for p in positions.values())
    # The converter's own file (tied embedding shared, nothing else): each
    # signature has its own copy, the file is larger, the numbers the same.
    from keras_gpt1.export.litert_conversion import TracedModule
    from keras_gpt1.export.litert_conversion import convert_saved_model
    from keras_gpt1.export.litert_conversion import share_tied_embedding

    with TracedModule(module) as traced:
        raw = convert_saved_model(traced._directory.name, list(traced.signatures), "int8")
    raw = flatbuffer_utils.read_model_from_bytearray(bytearray(raw))
    share_tied_embedding(raw, backbone.vocabulary_size)
    unshared = bytes(flatbuffer_utils.convert_object_to_bytearray(raw))
    assert len(unshared) > len(tflite)
    assert all(len(p) == 2 for p in quantization_positions(unshared).values())
    from keras_gpt1.export.litert_runtime import LiteRTCausalLM
    from keras_gpt1.export.quality_gate import runner_config
    from keras_gpt1.export.quality_gate import teacher_forced

    ids = [5, 17, 42, 7, 99, 3]
    logits = [teacher_forced(LiteRTCausalLM.from_model(b, runner_config(module)), ids)
              for b in (tflite, unshared)]
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-6, rtol=0)


def test_export_and_generate_commands(trained_lm, tmp_path):
    from export_models import save_model_directory

    model_dir = save_model_directory(trained_lm, tmp_path / "model")
    out = str(tmp_path / "lm.litertlm")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        main(["export", "--model", model_dir, "--format", "litertlm", "--output", out,
              "--quantize", "int8", "--json"])
    summary = json.loads(printed.getvalue().strip().splitlines()[-1])
    assert summary["path"] == out and summary["quantization"] == "int8"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        main(["generate", "--model", out, "--prompt", "The cat sat",
              "--max-new-tokens", "5", "--json"])
    result = json.loads(printed.getvalue().strip().splitlines()[-1])
    assert set(result) == {"text", "prompt", "completion"}
    assert result["text"] == "The cat sat" + result["completion"]


@pytest.mark.parametrize("kwargs, message", [
    ({"quantize": "int4"}, "unsupported quantization 'int4'"),
    ({"max_length": CONTEXT + 1}, "max length must be between 2"),
    ({"prefill_lengths": [0, 8]}, "prefill lengths must be between 1"),
])
def test_bad_export_options_are_one_line_errors(trained_lm, tmp_path, kwargs, message):
    with pytest.raises(GPT1InputError, match=message):
        export_litertlm(trained_lm, str(tmp_path / "x.litertlm"), **kwargs)
    assert os.listdir(tmp_path) == []


def test_what_lite_rt_lm_cannot_run_is_refused(trained_lm, runner, tmp_path):
    with pytest.raises(GPT1InputError, match=r"path ending in \.litertlm"):
        export_litertlm(trained_lm, str(tmp_path / "x.tflite"))
    with pytest.raises(GPT1InputError, match="leaves no room in the exported maximum"):
        runner.generate("the cat " * 40)
    with pytest.raises(GPT1InputError, match="LiteRT-LM samples with greedy"):
        runner.generate("The cat", sampler="beam")
    with pytest.raises(GPT1InputError, match="model not found"):
        LiteRTLMCausalLM(str(tmp_path / "missing.litertlm"))
    assert os.listdir(tmp_path) == []


def test_sampling_is_reproducible_with_a_seed(runner):
    a = runner.generate("The cat", max_new_tokens=8, sampler="top_p", top_p=0.9, seed=3)
    b = runner.generate("The cat", max_new_tokens=8, sampler="top_p", top_p=0.9, seed=3)
    assert a == b


def test_a_task_model_goes_to_litert_not_litertlm(tokenizer, tmp_path):
    from keras_gpt1 import GPT1TaskModel

    backbone = GPT1Backbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                            num_heads=2, hidden_dim=16, intermediate_dim=64,
                            max_sequence_length=16)
    model = GPT1TaskModel(backbone, "classification", label_names=["a", "b"],
                          tokenizer=tokenizer)
    with pytest.raises(GPT1InputError, match="exports as --format litert"):
        export_litertlm(model, str(tmp_path / "task.litertlm"))
    assert os.listdir(tmp_path) == []


def test_without_lite_rt_lm_installed_the_export_says_how_to_get_it(
        trained_lm, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "litert_lm_builder", None)  # import fails
    with pytest.raises(GPT1InputError, match="pip install litert-lm"):
        export_litertlm(trained_lm, str(tmp_path / "x.litertlm"))
    assert os.listdir(tmp_path) == []
