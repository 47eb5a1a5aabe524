"""The evaluation tests' fixtures, built once per session: test modules
load this file as a plugin (`pytest_plugins = ("evaluation_fixtures",)`)."""

import pytest
from evaluation_setup import model_files
from evaluation_setup import tiny_lm
from evaluation_setup import tiny_openai_gpt_tokenizer
from evaluation_setup import write_tasks


@pytest.fixture(scope="session")
def byte_level_model(tokenizer, tmp_path_factory):
    """A model with this project's byte-level tokenizer (tests/conftest.py's
    `tokenizer`): its `lm` and files (`model_files`)."""
    lm = tiny_lm(tokenizer, seed=1)
    return {"lm": lm, **model_files(lm, tmp_path_factory.mktemp("byte_level"))}


@pytest.fixture(scope="session")
def openai_gpt_model(tmp_path_factory):
    """A model with GPT-1's own tokenizer (`<unk>`, no BOS/EOS)."""
    lm = tiny_lm(tiny_openai_gpt_tokenizer(), seed=2)
    return {"lm": lm, **model_files(lm, tmp_path_factory.mktemp("openai_gpt"))}


@pytest.fixture(scope="session")
def task_dir(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="session")
def task_manager(task_dir):
    """The harness's task manager over the tests' tasks alone (indexing its
    own takes seconds)."""
    pytest.importorskip("lm_eval", reason="needs the 'eval' extra (lm-eval)",
                        exc_type=ImportError)
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=task_dir, include_defaults=False)
