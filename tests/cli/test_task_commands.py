"""`keras-gpt1 finetune / evaluate / predict` end to end, in process, with
--json; bad input exits 2 with one line on stderr."""

import contextlib
import io
import json
import os

import pytest
from task_data import separable_sentences
from task_data import write_pretrained_model
from task_data import write_tsv

from keras_gpt1.cli.main import main


def _last_json(text):
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def finetuned(tokenizer, tmp_path_factory):
    """A model fine-tuned through the CLI on a headerless `text<TAB>label`
    file (the module's one fit), with the CLI's JSON summary."""
    root = tmp_path_factory.mktemp("task_cli")
    pretrained = write_pretrained_model(root / "pretrained", tokenizer)
    train = write_tsv(root / "train.tsv", separable_sentences(64, seed=0), header=None)
    dev = write_tsv(root / "dev.tsv", separable_sentences(16, seed=1), header=None)
    output = str(root / "tuned")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        main(["finetune", "--model", pretrained, "--task", "classification",
              "--train", train, "--validation", dev, "--output", output,
              "--epochs", "6", "--batch-size", "16", "--learning-rate", "3e-3",
              "--no-xla", "--plot", "--json"])
    return {"root": root, "output": output, "dev": dev,
            "summary": _last_json(stdout.getvalue())}


def test_finetune_json_holds_validation_metrics_steps_and_label_names(finetuned):
    summary = finetuned["summary"]
    assert summary["val_accuracy"] >= 0.9
    assert summary["label_names"] == ["neg", "pos"]
    assert summary["steps"] == 24 and summary["train_loss"] > 0
    assert summary["columns"] == {"text": ["0"], "label": "1", "choices": None}
    assert os.path.isfile(os.path.join(finetuned["output"], "summary.json"))
    assert summary["plot"] == os.path.join(os.path.abspath(finetuned["output"]), "loss.png")
    with open(summary["plot"], "rb") as f:
        assert f.read(4) == b"\x89PNG"
    with open(os.path.join(finetuned["output"], "history.csv")) as f:
        assert f.readline().strip() == "epoch,loss" and len(f.readlines()) == 6


def test_evaluate_json_reproduces_the_validation_accuracy(finetuned, capsys):
    main(["evaluate", "--model", finetuned["output"], "--data", finetuned["dev"],
          "--json"])
    result = _last_json(capsys.readouterr().out)
    assert result["examples"] == 16
    assert result["accuracy"] == pytest.approx(finetuned["summary"]["val_accuracy"])
    assert {"f1", "matthews_correlation"} <= set(result)


def test_predict_labels_text_and_files(finetuned, capsys):
    main(["predict", "--model", finetuned["output"], "--text", "the cat mat sat quick",
          "--json"])
    result = _last_json(capsys.readouterr().out)
    (prediction,) = result["predictions"]
    assert prediction["label"] == "pos"
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)

    unlabelled = write_tsv(finetuned["root"] / "new.tsv",
                           [("the dog log lazy fox",), ("the mat cat sat quick",)], header=("sentence",))
    main(["predict", "--model", finetuned["output"], "--input", unlabelled,
          "--text-column", "sentence", "--json"])
    out = capsys.readouterr().out
    labels = [p["label"] for p in _last_json(out)["predictions"]]
    assert labels == ["neg", "pos"]
    assert out.splitlines()[0].startswith("row 2: neg")


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda f: ["evaluate", "--model", f["output"], "--data",
                    write_tsv(f["root"] / "bad.tsv", [("the cat", "meh")], header=None)],
         "bad.tsv: row 1, column '1': label 'meh' was not seen in training"),
        (lambda f: ["evaluate", "--model", f["output"], "--data",
                    write_tsv(f["root"] / "empty.tsv", [], header=None)],
         "empty.tsv: empty file"),
        (lambda f: ["predict", "--model", f["output"], "--text", "a", "--text", "b"],
         "task 'classification' reads 1 text column(s)"),
        (lambda f: ["finetune", "--model", str(f["root"]), "--task", "classification",
                    "--train", f["dev"], "--output", str(f["root"] / "again")],
         "is not a keras-gpt1 model directory"),
        (lambda f: ["evaluate", "--model", str(f["root"] / "pretrained"),
                    "--data", f["dev"]],
         "is not a fine-tuned task model"),
    ],
)
def test_bad_input_exits_2_with_one_line(finetuned, capsys, make_args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(make_args(finetuned))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
