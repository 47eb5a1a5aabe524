"""Every artifact the project publishes (a trained, fine-tuned and
converted model directory, a SavedModel version, a LiteRT bundle) has the
permissions of a directory the user makes with `mkdir`, and its files
those of a file made with `open`, whatever temporary name it was built
under."""

import contextlib
import importlib.util
import io
import os
import stat

import pytest
from task_data import separable_sentences
from task_data import write_tsv

from keras_gpt1.cli.main import main

# Unusual on purpose: neither mkdtemp's 0700 nor the common 0755 / 0644.
UMASK = 0o027
TINY_PRETRAIN = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4",
                 "--vocab-size", "300", "--max-steps", "2", "--checkpoint-every", "2",
                 "--no-xla"]


def _checkpoint_files():
    path = os.path.join(os.path.dirname(__file__), "convert", "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_artifact_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0


def _modes(root):
    """`{relative path: permission bits}` of `root` and everything in it."""
    modes = {".": stat.S_IMODE(os.stat(root).st_mode)}
    for directory, names, files in os.walk(root):
        for name in names + files:
            path = os.path.join(directory, name)
            modes[os.path.relpath(path, root)] = stat.S_IMODE(os.stat(path).st_mode)
    return modes


@pytest.fixture
def umask():
    previous = os.umask(UMASK)
    yield UMASK
    os.umask(previous)


def test_published_artifacts_have_the_permissions_of_mkdir_and_open(
        tmp_path, umask, corpus_file):
    os.mkdir(tmp_path / "made_with_mkdir")
    open(tmp_path / "made_with_open", "w").close()
    directory_mode = stat.S_IMODE(os.stat(tmp_path / "made_with_mkdir").st_mode)
    file_mode = stat.S_IMODE(os.stat(tmp_path / "made_with_open").st_mode)
    assert (directory_mode, file_mode) == (0o750, 0o640)

    out = tmp_path / "out"
    _run(["pretrain", "--corpus", corpus_file, "--output", str(out / "trained"),
          *TINY_PRETRAIN])
    train = write_tsv(tmp_path / "train.tsv", separable_sentences(8), header=None)
    _run(["finetune", "--model", str(out / "trained"), "--task", "classification",
          "--train", train, "--output", str(out / "tuned"), "--max-steps", "1",
          "--batch-size", "4", "--no-xla"])
    checkpoints = _checkpoint_files()
    weights, config = checkpoints.tiny_checkpoint_weights()
    hf = checkpoints.write_hf_checkpoint(tmp_path / "hf", weights, config)
    os.chmod(os.path.join(hf, "vocab.json"), 0o600)  # a private source file
    _run(["convert", "--hf-dir", hf, "--output", str(out / "converted")])
    _run(["export", "--model", str(out / "trained"), "--format", "saved_model",
          "--output", str(out / "serving"), "--max-length", "8"])
    _run(["export", "--model", str(out / "tuned"), "--format", "litert",
          "--output", str(out / "bundle"), "--max-length", "8"])

    published = {"trained": out / "trained", "tuned": out / "tuned",
                 "converted": out / "converted", "saved_model": out / "serving" / "1",
                 "litert": out / "bundle"}
    for name, root in published.items():
        for path, mode in _modes(root).items():
            full = os.path.join(root, path)
            expected = directory_mode if os.path.isdir(full) else file_mode
            assert mode == expected, f"{name}/{path}: {oct(mode)}, not {oct(expected)}"
    assert sorted(os.listdir(out)) == ["bundle", "converted", "serving", "trained",
                                       "tuned"]  # no temporary names left
