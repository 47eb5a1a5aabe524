"""LiteRT bundles of a causal LM: `prefill` / `decode` signatures with the
KV cache as tensors, builtin ops only, parity with Keras, quantization."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from export_models import CONTEXT
from export_models import MAX_NEW_TOKENS
from export_models import PREFILL_LENGTH
from export_models import PROMPTS
from export_models import make_end_token_reachable
from export_models import tiny_causal_lm

import keras_gpt1
from keras_gpt1 import GPT1InputError
from keras_gpt1.export import QUANTIZATIONS
from keras_gpt1.export import FlexOpsError
from keras_gpt1.export import LiteRTCausalLM
from keras_gpt1.export import export_litert
from keras_gpt1.export.litert_bundle import CONFIG_FILE
from keras_gpt1.export.litert_conversion import convert_module
from keras_gpt1.export.litert_runtime import make_interpreter

CACHE_NAMES = ["kv_cache_k_0", "kv_cache_k_1", "kv_cache_v_0", "kv_cache_v_1"]
HELD_OUT = "The lazy dog sat on the log; a quick fox jumps over the mat."


@pytest.fixture(scope="module")
def causal_lm(tokenizer):
    return make_end_token_reachable(tiny_causal_lm(tokenizer))


@pytest.fixture(scope="module")
def bundles(causal_lm, tmp_path_factory):
    """`{quantization: model.tflite path}`."""
    root = tmp_path_factory.mktemp("litert")
    return {
        q: export_litert(causal_lm, str(root / q), quantize=q,
                         prefill_length=PREFILL_LENGTH)["path"]
        for q in QUANTIZATIONS
    }


@pytest.fixture(scope="module")
def runners(bundles):
    return {q: LiteRTCausalLM(path) for q, path in bundles.items()}


def keras_next_token_logits(model, ids):
    """Logits `(len(ids), vocab)` of a full forward pass."""
    return np.asarray(model(np.asarray(ids, "int32")[None]))[0]


def test_bundle_holds_the_tflite_the_tokenizer_and_its_config(bundles):
    directory = os.path.dirname(bundles["none"])
    assert sorted(os.listdir(directory)) == [
        CONFIG_FILE, "merges.txt", "model.tflite", "vocabulary.json"]
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = json.load(f)
    assert config["max_length"] == CONTEXT and config["prefill_length"] == PREFILL_LENGTH
    assert config["cache_shape"] == [1, CONTEXT, 2, 8]
    assert config["signatures"]["decode"]["inputs"][:2] == ["tokens", "input_pos"]


def test_signatures_have_the_on_device_tensor_names(bundles):
    signatures = make_interpreter(bundles["none"]).get_signature_list()
    assert sorted(signatures) == ["decode", "prefill"]
    for signature in signatures.values():
        assert sorted(signature["inputs"]) == sorted(CACHE_NAMES + ["input_pos", "tokens"])
        assert sorted(signature["outputs"]) == sorted(CACHE_NAMES + ["logits"])


def op_names(path):
    """Op names of a .tflite's first subgraph, before any delegate."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.interpreter import OpResolverType

    interpreter = Interpreter(
        model_path=path,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return {op["op_name"] for op in interpreter._get_ops_details()}


def test_graph_has_builtin_ops_only_and_writes_the_cache_without_scatter(bundles):
    pytest.importorskip("ai_edge_litert")
    for path in bundles.values():
        ops = op_names(path)
        assert "DYNAMIC_UPDATE_SLICE" in ops
        assert not {o for o in ops if "SCATTER" in o or o.startswith("Flex")}
        assert not ops & {"CUSTOM", "VAR_HANDLE", "READ_VARIABLE"}


def signature_ops(path, signature):
    """`[(op name, [input shapes])]` of one signature's subgraph."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(open(path, "rb").read(), 0)
    index = next(model.SignatureDefs(i).SubgraphIndex()
                 for i in range(model.SignatureDefsLength())
                 if model.SignatureDefs(i).SignatureKey().decode() == signature)
    graph = model.Subgraphs(index)
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        shapes = [list(graph.Tensors(int(t)).ShapeAsNumpy()) for t in op.InputsAsNumpy()
                  if t >= 0]
        ops.append((names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())], shapes))
    return ops


def test_decode_attends_over_the_cache_without_moving_it(bundles):
    # One query: elementwise products and sums over the cache as it lies;
    # no TRANSPOSE of a cache-sized tensor, no BATCH_MATMUL that XNNPACK
    # would re-pack the cache for (see cache_attention.py).
    cache_size = CONTEXT * 2 * 8
    for quantize in ("none", "int8"):
        ops = signature_ops(bundles[quantize], "decode")
        names = [name for name, _ in ops]
        assert "BATCH_MATMUL" not in names and "SELECT_V2" in names
        moved = [shapes for name, shapes in ops if name == "TRANSPOSE"
                 and np.prod(shapes[0]) >= cache_size]
        assert not moved
        reads = [name for name, shapes in ops if [1, CONTEXT, 2, 8] in shapes]
        assert sorted(set(reads)) == ["DYNAMIC_UPDATE_SLICE", "MUL", "SUM"]
        assert names.count("SELECT_V2") == 1  # one mask bias, shared by the blocks
    prefill = [name for name, _ in signature_ops(bundles["none"], "prefill")]
    assert prefill.count("BATCH_MATMUL") == 4  # scores and mix in each block


def test_each_signature_runs_and_float32_logits_match_keras(causal_lm, runners):
    runner = runners["none"]
    ids = runner.tokenize(HELD_OUT)
    assert len(ids) > PREFILL_LENGTH  # chunked prefill
    expected = keras_next_token_logits(causal_lm, ids)
    logits, cache = runner.prefill(ids)
    np.testing.assert_allclose(logits, expected[-1], atol=1e-4, rtol=0)
    assert sorted(cache) == CACHE_NAMES
    assert cache["kv_cache_k_0"].shape == (1, CONTEXT, 2, 8)
    sequence = list(ids)
    for _ in range(3):
        sequence.append(int(np.argmax(logits)))
        logits, cache = runner.decode(sequence[-1], len(sequence) - 1, cache)
        expected = keras_next_token_logits(causal_lm, sequence)[-1]
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


def test_float32_greedy_text_equals_keras_generate(causal_lm, runners):
    expected = causal_lm.generate(PROMPTS, max_new_tokens=MAX_NEW_TOKENS)
    got = [runners["none"].generate(p, MAX_NEW_TOKENS) for p in PROMPTS]
    assert got == expected
    # One row meets the end token early, the others run to the budget.
    runner = runners["none"]
    lengths = [len(runner.generate_ids(runner.tokenize(p), MAX_NEW_TOKENS))
               - len(runner.tokenize(p)) for p in PROMPTS]
    assert min(lengths) < MAX_NEW_TOKENS == max(lengths)


def test_greedy_ids_equal_keras_up_to_the_full_context(causal_lm, runners):
    # A prompt that ends near the context: its last chunk would run past the
    # cache once padded, so the tail goes through decode.
    ids = runners["none"].tokenize(HELD_OUT * 3)[: CONTEXT - 1]
    last_chunk_start = (len(ids) - 1) // PREFILL_LENGTH * PREFILL_LENGTH
    assert last_chunk_start + PREFILL_LENGTH > CONTEXT
    got = runners["none"].generate_ids(ids, max_new_tokens=10, stop_at_end=False)
    expected = causal_lm.generate([ids], max_new_tokens=10, stop_at_end=False)[0]
    np.testing.assert_array_equal(got, expected)
    assert len(got) == CONTEXT


@pytest.mark.parametrize("quantize, max_error, min_agreement", [
    ("float16", 1e-2, 1.0), ("int8", 0.2, 0.5)])
def test_quantized_files_stay_close_to_keras(causal_lm, runners, quantize, max_error,
                                              min_agreement):
    ids = runners["none"].tokenize(HELD_OUT)
    expected = keras_next_token_logits(causal_lm, ids)
    got = []
    for n in range(2, len(ids) + 1):
        logits, _ = runners[quantize].prefill(ids[:n])
        got.append(logits)
    got = np.stack(got)
    expected = expected[1:]
    assert np.abs(got - expected).max() <= max_error
    agreement = np.mean(got.argmax(-1) == expected.argmax(-1))
    assert agreement >= min_agreement


def test_the_compiled_model_updates_the_cache_in_place_as_the_interpreter_does(
        causal_lm, bundles):
    path = bundles["int8"]
    in_place = LiteRTCausalLM(path, runtime="compiled_model")
    copying = LiteRTCausalLM(path, runtime="interpreter")
    ids = in_place.tokenize(HELD_OUT)
    # Chunked prefill, then decode steps: both signatures share the buffers.
    np.testing.assert_allclose(in_place.logits_along(ids, PREFILL_LENGTH + 2),
                               copying.logits_along(ids, PREFILL_LENGTH + 2),
                               atol=1e-5, rtol=0)
    cache = in_place.initial_cache()
    _, returned = in_place.decode(ids[0], 0, cache)
    _, returned = in_place.decode(ids[1], 1, returned)
    assert returned is cache
    written = np.abs(cache["kv_cache_v_1"]).sum(axis=(0, 2, 3)) > 0
    assert written.tolist() == [True, True] + [False] * (CONTEXT - 2)
    # A cache of plain arrays (the interpreter's) is taken as a copy.
    plain = copying.initial_cache()
    expected, plain = copying.decode(ids[0], 0, plain)
    got, _ = in_place.decode(ids[0], 0, plain)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_quantization_shrinks_the_file(bundles):
    sizes = {q: os.path.getsize(p) for q, p in bundles.items()}
    # (At this tiny size int8's per-channel scales outweigh float16's savings.)
    assert sizes["int8"] < sizes["none"] and sizes["float16"] < sizes["none"]


def test_int8_file_is_at_most_35_percent_of_float32_when_weights_dominate(
        tokenizer, tmp_path):
    # At 2 x 128 wide the weights dominate the file; at 64 wide the fixed
    # overhead (graph, per-channel scales per signature) weighs more.
    model = tiny_causal_lm(tokenizer, hidden_dim=128)
    sizes = {q: os.path.getsize(export_litert(model, str(tmp_path / q), quantize=q,
                                              max_length=16)["path"])
             for q in ("none", "int8")}
    assert sizes["int8"] <= 0.35 * sizes["none"]


def test_a_graph_that_needs_flex_ops_fails_with_a_clear_message():
    class SixDimensional(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2, 3, 4, 5, 6, 7], tf.float32)])
        def expand(self, x):
            return {"y": x[:, 1:, None] * 2.0}  # StridedSlice on 7-D: Flex only

    module = SixDimensional()
    with pytest.raises(FlexOpsError, match=r"tf\.StridedSlice.*Flex ops are not allowed"):
        convert_module(module, signatures={"expand": module.expand.get_concrete_function()})


def test_bad_prompts_raise_input_errors(runners):
    runner = runners["none"]
    with pytest.raises(GPT1InputError, match="prompt is empty"):
        runner.generate("")
    with pytest.raises(GPT1InputError, match="leaves no room in the exported maximum"):
        runner.generate_ids(np.ones(CONTEXT, "int32"))


@pytest.mark.parametrize("kwargs, message", [
    ({"quantize": "int4"}, "unsupported quantization 'int4'"),
    ({"max_length": 1}, "max length must be between 2"),
    ({"prefill_length": CONTEXT + 1}, "prefill length must be between 1"),
])
def test_bad_export_options_raise_before_writing(causal_lm, tmp_path, kwargs, message):
    with pytest.raises(GPT1InputError, match=message):
        export_litert(causal_lm, str(tmp_path / "bundle"), **kwargs)
    assert os.listdir(tmp_path) == []


def test_existing_output_is_refused(causal_lm, bundles):
    with pytest.raises(GPT1InputError, match="output already exists"):
        export_litert(causal_lm, os.path.dirname(bundles["none"]))


def test_failed_conversion_leaves_nothing_behind(causal_lm, tmp_path, monkeypatch):
    from keras_gpt1.export import litert_bundle

    def fail(directory):
        raise OSError("disk full")

    monkeypatch.setattr(type(causal_lm.tokenizer), "save_to_directory",
                        lambda self, directory: fail(directory))
    with pytest.raises(OSError, match="disk full"):
        export_litert(causal_lm, str(tmp_path / "bundle"), max_length=8)
    assert os.listdir(tmp_path) == []
    assert litert_bundle.MODEL_FILE  # the module is the one that wrote


def test_a_tflite_without_its_config_is_refused(tmp_path, bundles):
    lonely = tmp_path / "model.tflite"
    lonely.write_bytes(open(bundles["int8"], "rb").read())
    with pytest.raises(GPT1InputError, match="no litert_config.json beside it"):
        LiteRTCausalLM(str(lonely))
    with pytest.raises(GPT1InputError, match="model not found"):
        LiteRTCausalLM(str(tmp_path / "missing.tflite"))


def test_a_model_without_tokenizer_exports_a_bundle_that_runs_on_ids(causal_lm, tmp_path):
    bare = keras_gpt1.GPT1CausalLM(causal_lm.backbone)  # same weights, no tokenizer
    path = export_litert(bare, str(tmp_path / "bare"), max_length=16)["path"]
    assert sorted(os.listdir(tmp_path / "bare")) == [CONFIG_FILE, "model.tflite"]
    runner = LiteRTCausalLM(path)
    ids = np.array([5, 6, 7], "int32")
    expected = causal_lm.generate([ids], max_new_tokens=4, stop_at_end=False)[0]
    np.testing.assert_array_equal(runner.generate_ids(ids, 4, stop_at_end=False), expected)
    with pytest.raises(GPT1InputError, match="exported without a tokenizer"):
        runner.generate("Hi")
