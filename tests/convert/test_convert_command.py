"""`keras-gpt1 convert` and `keras-gpt1 tokenize`, end to end through
`keras_gpt1.cli.main.main`."""

import json
import os

import numpy as np
import pytest
from gpt1_checkpoint_files import TINY
from gpt1_checkpoint_files import tiny_checkpoint_weights
from gpt1_checkpoint_files import write_hf_checkpoint
from gpt1_checkpoint_files import write_openai_release

from keras_gpt1.cli.main import main
from keras_gpt1.tokenizers import OpenAIGPTTokenizer

LINES = ["The cat, and the hat.", "", "HE said: THE END!", "cat\tcat  cat", "né ça"]


def run_cli(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    return out[:-1], json.loads(out[-1])


@pytest.fixture
def converted(tmp_path, capsys):
    weights, config = tiny_checkpoint_weights()
    source = write_hf_checkpoint(tmp_path / "hf", weights, config)
    output = str(tmp_path / "model")
    _, summary = run_cli(capsys, ["convert", "--hf-dir", source, "--output", output, "--json"])
    return source, output, summary


def test_convert_writes_a_model_directory_and_a_json_summary(converted):
    source, output, summary = converted
    assert summary["output"] == output
    assert summary["source_format"] == "huggingface"
    assert summary["num_layers"] == TINY["n_layer"]
    assert summary["vocabulary_size"] == 63
    assert summary["parameters"] > 0
    assert {"model.keras", "vocab.json", "merges.txt"} <= set(os.listdir(output))


def test_tokenize_writes_one_line_of_ids_per_input_line(converted, tmp_path, capsys):
    source, output, _ = converted
    text = tmp_path / "input.txt"
    text.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    expected = OpenAIGPTTokenizer.from_directory(source)(LINES).to_list()

    printed, summary = run_cli(capsys, ["tokenize", "--model", output, "--input", str(text), "--json"])
    assert [[int(i) for i in line.split()] for line in printed] == expected
    assert summary == {"lines": len(LINES), "tokens": sum(map(len, expected))}

    ids_file = tmp_path / "ids.txt"
    _, summary = run_cli(capsys, ["tokenize", "--model", output, "--input", str(text),
                                  "--output", str(ids_file), "--json"])
    lines = ids_file.read_text().split("\n")
    assert lines[-1] == "" and len(lines) == len(LINES) + 1
    assert [[int(i) for i in line.split()] for line in lines[:-1]] == expected


def test_convert_of_the_original_release_with_num_heads(tmp_path, capsys):
    weights, _ = tiny_checkpoint_weights(seed=5)
    source = write_openai_release(tmp_path / "openai", weights, TINY["n_layer"])
    output = str(tmp_path / "model")
    _, summary = run_cli(capsys, ["convert", "--openai-dir", source, "--output", output,
                                  "--num-heads", "2", "--json"])
    assert summary["source_format"] == "openai"
    assert sorted(os.listdir(output)) == [
        "encoder_bpe_40000.json", "model.keras", "summary.json", "vocab_40000.bpe"]


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    weights, _ = tiny_checkpoint_weights()
    source = write_openai_release(tmp_path / "openai", weights, TINY["n_layer"])
    os.remove(os.path.join(source, "params_7.npy"))
    output = tmp_path / "model"
    with pytest.raises(SystemExit) as e:
        main(["convert", "--openai-dir", source, "--output", str(output), "--num-heads", "2"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing shard params_7.npy" in err
    assert sorted(os.listdir(tmp_path)) == ["openai"]


def test_generate_runs_on_a_converted_model_with_its_tokenizer(converted):
    from keras_gpt1 import artifacts

    model = artifacts.load_model(converted[1])
    model.jit_compile_generate = False
    text = model.generate("the cat", max_new_tokens=3)
    assert isinstance(text, str) and text.startswith("the cat")
    ids = model.generate([np.array([5, 6])], max_new_tokens=2)
    assert len(ids[0]) == 4
