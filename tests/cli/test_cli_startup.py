"""The CLI parses flags, prints --help and refuses a bad flag without
loading Keras or TensorFlow; TensorFlow's start-up lines are hidden but a
failure while loading is not."""

import os
import subprocess
import sys

import pytest

CHECK_IMPORTS = """
import sys
from keras_gpt1.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
heavy = sorted(m for m in ("keras", "tensorflow", "jax", "torch", "keras_hub")
               if m in sys.modules)
print("HEAVY", ",".join(heavy) or "-")
sys.exit(code)
"""


def _run(args, **kwargs):
    return subprocess.run([sys.executable, "-c", CHECK_IMPORTS, *args],
                          capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("args, status", [
    (["--help"], 0),
    (["pretrain", "--help"], 0),
    (["prepare-corpus", "--help"], 0),
    (["pretrain", "--corpus", "c.txt", "--output", "o", "--bogus"], 2),
    (["nonsense"], 2),
])
def test_flags_are_parsed_without_keras_or_tensorflow(args, status):
    done = _run(args)
    assert done.returncode == status, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY -"
    if status == 2:
        assert len(done.stderr.strip().splitlines()) == 1


def test_tensorflow_s_start_up_lines_are_hidden_but_replayed_when_loading_fails(capfd):
    from keras_gpt1._native_logs import quiet_native_logs

    with quiet_native_logs():
        os.write(2, b"a start-up log line\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(ImportError, match="no such backend"):
        with quiet_native_logs():
            os.write(2, b"the native reason it failed\n")
            raise ImportError("no such backend")
    assert capfd.readouterr().err == "the native reason it failed\n"


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    code = ("import sys\n"
            "from keras_gpt1.cli import main as m\n"
            "from keras_gpt1.cli import prepare_corpus_command as c\n"
            "def run(args): raise KeyboardInterrupt\n"
            "c.run = run\n"
            "m.main(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", code, "prepare-corpus", "x",
                           "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 130
    assert done.stderr.strip().splitlines() == ["keras-gpt1: error: interrupted"]
