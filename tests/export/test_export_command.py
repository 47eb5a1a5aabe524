"""`keras-gpt1 export` and `keras-gpt1 generate --model FILE.tflite`: JSON
results, Keras parity through the CLI, and bad input (exit 2, one line,
nothing written). (`export --format saved_model` runs in
test_saved_model_export.py.)"""

import json
import os
import subprocess
import sys

import pytest
from export_models import PROMPTS
from export_models import make_end_token_reachable
from export_models import save_model_directory
from export_models import tiny_causal_lm

from keras_gpt1.cli.main import main

CLI = [sys.executable, "-m", "keras_gpt1.cli.main"]


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def exit_code_and_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def causal_lm(tokenizer):
    return make_end_token_reachable(tiny_causal_lm(tokenizer))


@pytest.fixture(scope="module")
def model_dir(causal_lm, tmp_path_factory):
    return save_model_directory(causal_lm, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def litert_model(model_dir, tmp_path_factory):
    """`model.tflite` of a float32 bundle exported through the CLI."""
    output = str(tmp_path_factory.mktemp("cli") / "litert")
    main(["export", "--model", model_dir, "--format", "litert", "--output", output,
          "--prefill-length", "4"])
    return os.path.join(output, "model.tflite")


def test_generate_with_a_tflite_file_equals_keras_greedy_generate(
        causal_lm, litert_model, capsys):
    expected = causal_lm.generate(PROMPTS[:3], max_new_tokens=6)
    for prompt, text in zip(PROMPTS[:3], expected):
        main(["generate", "--model", litert_model, "--prompt", prompt,
              "--max-new-tokens", "6", "--json"])
        result = last_json(capsys)
        assert result["text"] == text
        assert result["text"] == result["prompt"] + result["completion"]


def test_export_litert_int8_reports_the_file(model_dir, tmp_path, capsys):
    output = str(tmp_path / "int8")
    main(["export", "--model", model_dir, "--format", "litert", "--output", output,
          "--quantize", "int8", "--max-length", "16", "--json"])
    printed = capsys.readouterr().out.strip().splitlines()
    result = json.loads(printed[-1])
    assert result["quantization"] == "int8" and result["max_length"] == 16
    assert result["files"]["model.tflite"] == os.path.getsize(result["path"])
    gate = result["quality_gate"]
    assert set(gate) >= {"passed", "perplexity", "perplexity_float32", "perplexity_change",
                         "greedy_identical", "greedy_common_prefix"}
    assert gate["text"] == "built-in passage"
    assert any(line.startswith("int8 within the quality gate") or
               line.startswith("int8 FAILS the quality gate") for line in printed)


@pytest.mark.parametrize("extra, message", [
    (["--format", "litert", "--quantize", "int4"], "invalid choice: 'int4'"),
    (["--format", "onnx"], "invalid choice: 'onnx'"),
    (["--format", "saved_model", "--quantize", "int8"], "applies to the litert format"),
    (["--format", "litert", "--max-length", "999"], "max length must be between 2"),
    (["--format", "litert", "--quantize", "int8", "--gate-text", "/nonexistent/held.txt"],
     "gate text not found: /nonexistent/held.txt"),
    (["--format", "saved_model", "--gate-text", "/nonexistent/held.txt"],
     "--gate-text applies to the litert and litertlm formats"),
])
def test_bad_export_options_exit_2_and_write_nothing(model_dir, tmp_path, capsys, extra,
                                                     message):
    output = str(tmp_path / "out")
    code, err = exit_code_and_error(
        capsys, ["export", "--model", model_dir, "--output", output, *extra])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_exporting_a_directory_that_is_not_a_model_exits_2(tmp_path, capsys):
    code, err = exit_code_and_error(capsys, [
        "export", "--model", str(tmp_path), "--format", "litert",
        "--output", str(tmp_path / "out")])
    assert code == 2 and "is not a keras-gpt1 model directory" in err
    assert os.listdir(tmp_path) == []


def test_exporting_a_missing_model_exits_2_with_one_line(tmp_path):
    done = subprocess.run(
        CLI + ["export", "--model", str(tmp_path / "nope"), "--format", "saved_model",
               "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"keras-gpt1: error: model not found: {tmp_path / 'nope'}"]
    assert not (tmp_path / "out").exists()


def test_exporting_over_an_existing_bundle_exits_2(model_dir, litert_model, capsys):
    code, err = exit_code_and_error(capsys, [
        "export", "--model", model_dir, "--format", "litert",
        "--output", os.path.dirname(litert_model)])
    assert code == 2 and "output already exists" in err


@pytest.mark.parametrize("extra, message", [
    (["--prompt", "word " * 40], "leaves no room in the exported maximum length"),
    (["--prompt", "Hi", "--sampler", "top_k"], "decodes greedily"),
])
def test_generate_with_a_tflite_file_rejects_bad_input(litert_model, capsys, extra,
                                                       message):
    code, err = exit_code_and_error(capsys, ["generate", "--model", litert_model, *extra])
    assert code == 2 and message in err


def test_generate_takes_the_bundle_directory_as_well_as_its_tflite(
        litert_model, capsys):
    for model in (litert_model, os.path.dirname(litert_model)):
        main(["generate", "--model", model, "--prompt", PROMPTS[0],
              "--max-new-tokens", "4", "--json"])
        texts = last_json(capsys)["text"]
    main(["generate", "--model", litert_model, "--prompt", PROMPTS[0],
          "--max-new-tokens", "4", "--json"])
    assert last_json(capsys)["text"] == texts


@pytest.mark.parametrize("name", ["m.tflite", "m.litertlm"])
def test_a_litert_output_named_like_one_file_says_what_to_pass(
        model_dir, tmp_path, capsys, name):
    code, err = exit_code_and_error(capsys, [
        "export", "--model", model_dir, "--format", "litert",
        "--output", str(tmp_path / name)])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "writes a bundle directory" in err and "--format litertlm" in err
    assert os.listdir(tmp_path) == []
