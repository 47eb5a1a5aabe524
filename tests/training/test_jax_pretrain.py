"""`KERAS_BACKEND=jax keras-gpt1 pretrain`: data-parallel over every local
device with keras.distribution, in processes where TensorFlow cannot be
imported, on 2 host CPU devices (XLA_FLAGS): two devices take the same
steps as one, and a run killed while writing a checkpoint and started again
ends with the uninterrupted run's weights, bit for bit."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import pythonpath_without_tensorflow

from keras_gpt1.training.checkpoints import completed_epochs

pytest.importorskip("jax", reason="needs jax (the jax extra)", exc_type=ImportError)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAUSING = os.path.join(ROOT, "tests", "reliability", "pretrain_pausing_in_a_checkpoint.py")
RUN = ["pretrain", "--preset", "tiny", "--seq-len", "32", "--batch-size", "4",
       "--vocab-size", "300", "--max-steps", "9", "--checkpoint-every", "3",
       "--dropout", "0.1", "--seed", "3", "--json"]
TIMEOUT = 600
# Saves the published model's weights beside it, for comparison.
SAVE_WEIGHTS = (
    "import sys, numpy as np\n"
    "from keras_gpt1.cli.main import main\n"
    "main(sys.argv[2:])\n"
    "from keras_gpt1 import artifacts\n"
    "np.savez(sys.argv[1], *artifacts.load_model(sys.argv[sys.argv.index('--output') + 1])"
    ".get_weights())\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    blocker = tmp_path_factory.mktemp("no_tensorflow")
    return {**os.environ, "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
            "PYTHONPATH": pythonpath_without_tensorflow(blocker, ROOT)}


def _run(env, weights, *args):
    done = subprocess.run([sys.executable, "-c", SAVE_WEIGHTS, str(weights), *args],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads([line for line in done.stdout.splitlines()
                          if line.startswith("{")][-1])
    with np.load(weights, allow_pickle=False) as f:
        return summary, [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.slow
def test_jax_pretrain_data_parallel_and_killed_mid_checkpoint(env, corpus_file, tmp_path):
    two, weights = _run(env, tmp_path / "two.npz", *RUN, "--corpus", corpus_file,
                        "--output", str(tmp_path / "two"))
    assert (two["strategy"], two["replicas"]) == ("data_parallel", 2)
    assert (two["precision"], two["jit_compile"]) == ("float32", True)
    assert two["steps"] == 9 and two["val_loss"] < two["initial_val_loss"]
    assert sorted(os.listdir(tmp_path / "two")) == [
        "data", "history.csv", "merges.txt", "model.keras", "summary.json",
        "vocabulary.json"]  # no TensorBoard logs/ without TensorFlow

    one, one_weights = _run(env, tmp_path / "one.npz", *RUN, "--corpus", corpus_file,
                            "--output", str(tmp_path / "one"), "--strategy", "default")
    assert one["replicas"] == 1
    largest = max(float(np.abs(w).max()) for w in weights)
    for a, b in zip(weights, one_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5 * largest, rtol=0)

    # Killed while checkpoint 2 is half written, then run again.
    resumed = tmp_path / "resumed"
    marker = tmp_path / "writing"
    command = [*RUN, "--corpus", corpus_file, "--output", str(resumed)]
    proc = subprocess.Popen([sys.executable, PAUSING, str(marker), "2", *command], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + TIMEOUT
    while not marker.exists():
        assert proc.poll() is None and time.time() < deadline, "no checkpoint write"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert completed_epochs(tmp_path / "resumed.partial" / "checkpoint") == [1]
    again, resumed_weights = _run(env, tmp_path / "resumed.npz", *command)
    assert again["resumed_from_step"] == 3 and again["steps"] == 9
    for a, b in zip(resumed_weights, weights, strict=True):
        np.testing.assert_array_equal(a, b)
