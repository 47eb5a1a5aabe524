"""`keras-gpt1 evaluate-lm`: the harness's table, `--json` its results (the
same numbers as `simple_evaluate` with the model); bad input (a malformed
task file, an unknown task, a model that is not one, `--limit 0`, the
harness not installed) exits 2 with one line."""

import json
import os
import sys

import pytest
from evaluation_setup import MC_TASK
from evaluation_setup import ROLLING_TASK

from keras_gpt1.cli.main import main

# The fixtures (models, tasks), shared by the session.
pytest_plugins = ("evaluation_fixtures",)

PREFIX = "keras-gpt1: error: "


def test_table_and_json_results(byte_level_model, task_dir, task_manager, capsys):
    import lm_eval

    from keras_gpt1.evaluation import KerasGPT1LM

    assert main(["evaluate-lm", "--model", byte_level_model["model_dir"], "--tasks",
                 f"{MC_TASK},{ROLLING_TASK}", "--include-path", task_dir, "--limit", "3",
                 "--batch-size", "2", "--bootstrap-iters", "0", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    table = "\n".join(out[:-1])
    assert "Tasks" in table and f"|{MC_TASK}" in table and "|word_perplexity" in table
    assert set(result["results"]) == {MC_TASK, ROLLING_TASK}
    assert result["n-samples"][MC_TASK]["effective"] == 3
    assert "samples" not in result
    expected = lm_eval.simple_evaluate(
        model=KerasGPT1LM(model=byte_level_model["model_dir"]), tasks=[MC_TASK, ROLLING_TASK],
        task_manager=task_manager, limit=3, bootstrap_iters=0, log_samples=False)
    for task in (MC_TASK, ROLLING_TASK):
        for key, value in expected["results"][task].items():
            if isinstance(value, float):
                assert result["results"][task][key] == pytest.approx(value, rel=1e-6), key


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


@pytest.fixture
def bad(tmp_path, task_dir):
    """Paths the cases name: a task directory with one malformed file, one
    whose data file is missing, a file that is not a model."""
    broken = tmp_path / "broken_tasks"
    broken.mkdir()
    write(broken / "bad.yaml", "task: bad\n  output_type: [oops\n")
    no_data = tmp_path / "no_data_tasks"
    no_data.mkdir()
    with open(os.path.join(task_dir, "mc.yaml"), encoding="utf-8") as f:
        yaml = f.read()
    write(no_data / "mc.yaml", yaml.replace(os.path.join(task_dir, "mc.jsonl"),
                                            str(tmp_path / "gone.jsonl")))
    return {"broken": str(broken), "no_data": str(no_data), "tasks": task_dir,
            "text": write(tmp_path / "notes.txt", "not a model\n"),
            "empty_dir": str(tmp_path)}


CASES = [
    pytest.param(["--include-path", "{broken}"], "bad.yaml is not a valid task file: ",
                 id="malformed_task_file"),
    pytest.param(["--include-path", "{no_data}"],
                 f"task '{MC_TASK}' could not be loaded: ", id="task_data_missing"),
    pytest.param(["--tasks", "no_such_task"], "unknown task 'no_such_task': not one "
                 "of the harness's tasks nor under ", id="unknown_task"),
    pytest.param(["--limit", "0"], "argument --limit: must be >= 1, got 0", id="limit_0"),
    pytest.param(["--model", "{text}"], "notes.txt is not a model", id="model_is_a_text"),
    pytest.param(["--model", "{empty_dir}"], "is neither a preset saved with "
                 "save_to_preset nor a Hugging Face openai-gpt checkpoint",
                 id="model_is_an_empty_directory"),
    pytest.param(["--model", "gpt1"], "'gpt1' names an architecture with random weights",
                 id="model_is_an_architecture"),
    pytest.param(["--model", "{empty_dir}/missing"], "model not found: ",
                 id="model_missing"),
    pytest.param(["--prefix-token-id", "-1"], "prefix_token_id -1 is out of range",
                 id="prefix_token_out_of_range"),
]


@pytest.mark.parametrize("argv, message", CASES)
def test_bad_input_exits_2_with_one_line(byte_level_model, bad, capsys, argv, message):
    argv = ["evaluate-lm", "--model", byte_level_model["model_dir"], "--tasks", MC_TASK,
            "--include-path", bad["tasks"], *[a.format(**bad) for a in argv]]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(PREFIX), err
    assert message in err, err


def test_without_the_harness_it_says_what_to_install(byte_level_model, monkeypatch,
                                                     capsys):
    for name in [m for m in sys.modules if m == "lm_eval" or m.startswith("lm_eval.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import lm_eval fails
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate-lm", "--model", byte_level_model["model_dir"], "--tasks", "piqa"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        PREFIX + "lm-evaluation-harness (lm-eval) is not installed: "
        "pip install keras-gpt1[eval]\n")

