"""A pre-training run killed with SIGKILL at a random moment inside a
checkpoint interval (not at a step boundary; the kill may land while a
checkpoint is being written) and started again ends with exactly the
weights of a run that was never interrupted: on this machine's default
path (`--precision auto`: mixed bfloat16 without XLA on a CPU with
bfloat16 instructions, float32 with XLA elsewhere), on float32 with XLA,
and on two workers (one killed, then both restarted)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import free_ports

from keras_gpt1.training.checkpoints import completed_epochs

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "..", "training", "strategy_worker.py")
CLI = [sys.executable, "-m", "keras_gpt1.cli.main"]
# 6 intervals of 3 steps: the kill comes after the first checkpoint, with
# most of the run still ahead.
RUN = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--vocab-size", "300",
       "--max-steps", "18", "--checkpoint-every", "3", "--dropout", "0.1", "--seed", "3"]
PATHS = {
    "auto": ["--precision", "auto"],
    "float32_xla": ["--precision", "float32", "--xla"],
}
TIMEOUT = 600


def _weights(model_dir):
    from keras_gpt1 import artifacts

    return [np.asarray(w) for w in artifacts.load_model(model_dir).get_weights()]


def _kill_at_a_random_moment(proc, checkpoint_dir, rng):
    """SIGKILL `proc` a random time after its first checkpoint; the delay
    drawn, for the failure message."""
    deadline = time.time() + TIMEOUT
    while not completed_epochs(checkpoint_dir):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.05)
    delay = rng.uniform(0.0, 1.5)
    time.sleep(delay)
    assert proc.poll() is None, f"the run finished within {delay:.2f} s: too short to kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return delay


@pytest.mark.slow
@pytest.mark.parametrize("path", list(PATHS))
def test_sigkill_then_rerun_ends_with_the_uninterrupted_weights(path, corpus_file,
                                                                tmp_path):
    args = [*RUN, *PATHS[path], "--json"]
    straight = tmp_path / "straight"
    done = subprocess.run(CLI + ["pretrain", "--corpus", corpus_file, "--output",
                                 str(straight), *args],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    resumed = tmp_path / "resumed"
    command = CLI + ["pretrain", "--corpus", corpus_file, "--output", str(resumed), *args]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seed = random.SystemRandom().randrange(2**31)
    delay = _kill_at_a_random_moment(proc, tmp_path / "resumed.partial" / "checkpoint",
                                     random.Random(seed))
    assert not resumed.exists()
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(done.stdout.strip().splitlines()[-1])
    assert again["resumed_from_step"] >= 3 and again["steps"] == 18
    assert again["precision"] == summary["precision"]
    assert again["jit_compile"] == summary["jit_compile"]
    for a, b in zip(_weights(resumed), _weights(straight)):
        np.testing.assert_array_equal(a, b, err_msg=f"killed {delay:.2f} s after the "
                                      f"first checkpoint (seed {seed})")


def _workers(tmp_path, name):
    """Two worker processes of one cluster on 127.0.0.1."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen(
            [sys.executable, WORKER, str(tmp_path / "corpus.txt"), str(tmp_path / name),
             str(tmp_path / f"{name}.npz"), "--strategy", "multi_worker", "--steps", "12",
             "--checkpoint-every", "3", "--dropout", "0.1", "--no-xla"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    return procs


def _finish(procs):
    for proc in procs:
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err[-3000:]


def _npz(path):
    with np.load(path, allow_pickle=False) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.slow
def test_two_workers_one_killed_then_both_restarted_end_with_the_uninterrupted_weights(
        tmp_path):
    from conftest import write_corpus

    write_corpus(tmp_path / "corpus.txt")
    _finish(_workers(tmp_path, "straight"))
    procs = _workers(tmp_path, "resumed")
    seed = random.SystemRandom().randrange(2**31)
    delay = _kill_at_a_random_moment(
        procs[1], tmp_path / "resumed.worker1.partial" / "checkpoint", random.Random(seed))
    time.sleep(1.0)  # worker 0 waits on the dead worker's collective ...
    procs[0].kill()  # ... and is stopped too, as a cluster manager would
    for proc in procs:
        proc.communicate(timeout=TIMEOUT)
    _finish(_workers(tmp_path, "resumed"))  # both restarted
    for index in range(2):
        resumed = _npz(tmp_path / f"resumed.{index}.npz")
        straight = _npz(tmp_path / f"straight.{index}.npz")
        for a, b in zip(resumed, straight):
            np.testing.assert_array_equal(a, b, err_msg=f"worker {index}; worker 1 killed "
                                          f"{delay:.2f} s after its first checkpoint "
                                          f"(seed {seed})")
