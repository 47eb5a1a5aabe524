"""Hide the C++ log lines TensorFlow prints while it loads, without hiding
a failure.

TensorFlow 2.21 writes several lines to file descriptor 2 on import (no
CUDA driver, oneDNN notes) before `TF_CPP_MIN_LOG_LEVEL` takes effect,
which would break the CLI's "one line on stderr" contract. Within
`quiet_native_logs()` descriptor 2 goes to a temporary file instead: if
the block raises, what was captured is written to stderr first; if the
process crashes (a native fault), Python's `faulthandler` reports it and
the Python stack on the real stderr, and the captured lines stay in
`keras-gpt1-native-*.log` in the temporary directory. Set
`KERAS_GPT1_SHOW_NATIVE_LOGS=1` to see everything as it comes.
"""

import contextlib
import faulthandler
import os
import sys
import tempfile


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
    fd, log_path = tempfile.mkstemp(prefix="keras-gpt1-native-", suffix=".log")
    real_stderr = os.fdopen(os.dup(saved), "w")
    # A crash report on the real stderr (unless a handler is already set,
    # e.g. by pytest: it keeps its own file).
    ours = not faulthandler.is_enabled()
    if ours:
        faulthandler.enable(file=real_stderr)
    os.dup2(fd, 2)
    failed = True
    try:
        yield
        failed = False
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
        if ours:
            faulthandler.disable()
        real_stderr.close()
        if failed:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                sys.stderr.write(f.read())
        os.remove(log_path)


_backend_loaded = False


def load_backend_quietly():
    """Import Keras, keras-hub and (where installed) TensorFlow and
    TensorFlow Text, and let TensorFlow look for devices, inside
    `quiet_native_logs`: the lines they print while loading stay hidden.
    Once a process."""
    global _backend_loaded
    if _backend_loaded:
        return
    import importlib

    with quiet_native_logs():
        import keras  # noqa: F401
        import keras_hub  # noqa: F401

        try:
            tensorflow = importlib.import_module("tensorflow")
        except ImportError:
            tensorflow = None
        if tensorflow is not None:
            tensorflow.config.list_physical_devices()  # "failed call to cuInit", ...
            try:
                importlib.import_module("tensorflow_text")
            except ImportError:
                pass
    _backend_loaded = True
