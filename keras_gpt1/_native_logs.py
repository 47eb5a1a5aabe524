"""Hide the C++ log lines TensorFlow prints while it loads.

TensorFlow 2.21 writes several lines to file descriptor 2 on import (no
CUDA driver, oneDNN notes) before `TF_CPP_MIN_LOG_LEVEL` takes effect,
which would break the CLI's "one line on stderr" contract. Set
`KERAS_GPT1_SHOW_NATIVE_LOGS=1` to see them.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_native_logs():
    if os.environ.get("KERAS_GPT1_SHOW_NATIVE_LOGS") == "1":
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some notebooks)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
