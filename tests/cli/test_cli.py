"""The CLI contract: `--json` puts one JSON object on the last stdout line;
bad input exits 2 with one line on stderr, no traceback, nothing written."""

import json
import os
import subprocess
import sys

import pytest

from keras_gpt1.cli.main import main

CLI = [sys.executable, "-m", "keras_gpt1.cli.main"]
TINY_PRETRAIN = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4",
                 "--vocab-size", "300", "--learning-rate", "1e-3"]


def _last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def _run(args, timeout=300, **kwargs):
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=timeout,
                          **kwargs)


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    from conftest import write_corpus

    root = tmp_path_factory.mktemp("cli")
    corpus = write_corpus(root / "corpus.txt")
    out = str(root / "model")
    main(["pretrain", "--corpus", corpus, "--output", out, "--max-steps", "4",
          "--checkpoint-every", "2", "--no-xla", "--plot", *TINY_PRETRAIN, "--json"])
    return out


def test_pretrain_json_summary(trained_model, capsys):
    with open(os.path.join(trained_model, "summary.json")) as f:
        summary = json.load(f)
    for key in ("val_loss", "val_perplexity", "steps", "resumed_from_step"):
        assert key in summary
    assert summary["steps"] == 4 and summary["resumed_from_step"] == 0
    with open(os.path.join(trained_model, "loss.png"), "rb") as f:
        assert f.read(4) == b"\x89PNG"


def test_attention_command_draws_the_causal_matrix(trained_model, tmp_path, capsys):
    out = str(tmp_path / "attention.png")
    main(["attention", "--model", trained_model, "--text", "The cat sat", "--layer", "1",
          "--head", "3", "--output", out, "--json"])
    result = _last_json(capsys.readouterr().out)
    n = len(result["tokens"])
    assert "".join(result["tokens"]) == "The cat sat"
    assert all(w == 0 for i, row in enumerate(result["weights"]) for w in row[i + 1:])
    assert all(abs(sum(row) - 1) < 1e-4 for row in result["weights"]) and n == len(result["weights"])
    with open(out, "rb") as f:
        assert f.read(4) == b"\x89PNG"


def test_generate_json_holds_the_text(trained_model, capsys):
    main(["generate", "--model", trained_model, "--prompt", "The cat",
          "--max-new-tokens", "5", "--json"])
    result = _last_json(capsys.readouterr().out)
    assert result["text"].startswith("The cat")
    assert result["text"] == result["prompt"] + result["completion"]


def test_generate_top_p_with_seed_is_reproducible(trained_model, capsys):
    args = ["generate", "--model", trained_model, "--prompt", "A quick",
            "--max-new-tokens", "6", "--sampler", "top_p", "--seed", "3", "--json"]
    main(args)
    first = _last_json(capsys.readouterr().out)["text"]
    main(args)
    assert _last_json(capsys.readouterr().out)["text"] == first


def _assert_clean_failure(result, message):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keras-gpt1: error: ") and message in lines[0]
    assert "Traceback" not in result.stdout


def test_bad_pretrain_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"caf\xe9\n")
    out = tmp_path / "out"
    cases = [
        (["--corpus", str(tmp_path / "missing.txt")], "corpus file not found"),
        (["--corpus", str(empty)], "corpus is empty"),
        (["--corpus", str(binary)], "not valid UTF-8 at byte 3"),
        (["--corpus", str(binary), "--preset", "gpt9"], "unknown preset 'gpt9'"),
        (["--corpus", str(empty), "--max-steps", "0"], "max_steps must be >= 1"),
        (["--corpus", str(empty), "--max-steps", "ten"], "invalid int value: 'ten'"),
    ]
    for args, message in cases:
        _assert_clean_failure(_run(["pretrain", "--output", str(out), *args]), message)
    assert sorted(os.listdir(tmp_path)) == ["binary.txt", "empty.txt"]


def test_bad_generate_input_exits_2(trained_model, tmp_path):
    _assert_clean_failure(
        _run(["generate", "--model", str(tmp_path / "none"), "--prompt", "x"]),
        "model not found",
    )
    _assert_clean_failure(
        _run(["generate", "--model", trained_model, "--prompt", "word " * 200]),
        "leaves no room in the context of 128",
    )
    _assert_clean_failure(
        _run(["generate", "--model", trained_model, "--prompt", ""]), "prompt is empty"
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    _assert_clean_failure(_run(["generate", "--model", str(broken), "--prompt", "x"]),
                          "is not a Keras archive")
    _assert_clean_failure(_run(["nonsense"]), "invalid choice: 'nonsense'")
    _assert_clean_failure(
        _run(["attention", "--model", trained_model, "--text", "x", "--layer", "9",
              "--output", str(tmp_path / "a.png")]),
        "layer 9 out of range [0, 4)",
    )


@pytest.mark.slow
def test_demo_runs_offline_and_reports_perplexity_before_and_after(tmp_path):
    # A slow end-to-end run: minutes on a loaded 2-core machine.
    result = _run(["demo", "--output", str(tmp_path / "demo"), "--steps", "3",
                   "--finetune-epochs", "1", "--json"], timeout=1200)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = _last_json(result.stdout)
    assert summary["val_perplexity"] < summary["initial_val_perplexity"]
    assert summary["sample"].startswith("The for statement")
    assert summary["top_p_sample"].startswith("The for statement")
    assert "validation perplexity" in result.stdout and "top-p sample" in result.stdout
    # After 3 steps the logits are near-uniform: LiteRT may pick the other
    # half of a float-rounding tie, and nowhere else.
    assert summary["export"]["litert_agrees_with_keras"] is True
    assert summary["export"]["litert_max_logit_difference"] < 1e-3
    for picture in (summary["attention_plot"], summary["pretrain"]["plot"]):
        with open(picture, "rb") as f:
            assert f.read(4) == b"\x89PNG"
