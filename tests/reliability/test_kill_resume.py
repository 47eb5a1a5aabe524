"""A pre-training run killed with SIGKILL and started again ends with
exactly the weights of a run that was never interrupted: killed while a
checkpoint is being written, then killed again at a random moment inside a
checkpoint interval, then left to finish; on both paths `--precision auto`
takes (mixed bfloat16 without XLA on a CPU with bfloat16 instructions,
float32 with XLA elsewhere: each forced here with KERAS_GPT1_CPU_BFLOAT16,
so both run on any machine), and on two workers (one killed, then both
restarted)."""

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
PAUSING = os.path.join(HERE, "pretrain_pausing_in_a_checkpoint.py")
CLI = [sys.executable, "-m", "keras_gpt1.cli.main"]
# 6 intervals of 3 steps: killed while writing checkpoint 2, then at a
# random moment between checkpoints 4 and 5.
RUN = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4", "--vocab-size", "300",
       "--max-steps", "18", "--checkpoint-every", "3", "--dropout", "0.1", "--seed", "3",
       "--precision", "auto"]
# What `--precision auto` picks, by what the CPU is said to multiply.
PATHS = {
    "bfloat16_cpu": ({"KERAS_GPT1_CPU_BFLOAT16": "1"}, ("mixed_bfloat16", False)),
    "float32_xla": ({"KERAS_GPT1_CPU_BFLOAT16": "0"}, ("float32", True)),
}
PAUSED_EPOCH = 2
TIMEOUT = 600


def _weights(model_dir):
    from keras_gpt1 import artifacts

    return [np.asarray(w) for w in artifacts.load_model(model_dir).get_weights()]


def _wait_for(condition, proc, what):
    deadline = time.time() + TIMEOUT
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.time() < deadline, f"no {what} in time"
        time.sleep(0.02)


def _kill_at_a_random_moment(proc, checkpoint_dir, rng, after_epoch=0):
    """SIGKILL `proc` at a random moment inside a checkpoint interval: the
    interval after the second checkpoint newer than `after_epoch`, its
    length taken from the interval before it. Returns the delay drawn, for
    the failure message."""
    def newest():
        return max(completed_epochs(checkpoint_dir), default=0)

    _wait_for(lambda: newest() > after_epoch, proc, f"a checkpoint after {after_epoch}")
    first, started = newest(), time.time()
    _wait_for(lambda: newest() > first, proc, f"a checkpoint after {first}")
    delay = rng.uniform(0.0, 0.8) * (time.time() - started)
    time.sleep(delay)
    assert proc.poll() is None, f"the run finished within {delay:.2f} s: too short to kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return delay


def _summary(done):
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("path", list(PATHS))
def test_killed_in_a_checkpoint_write_and_at_a_random_moment_ends_as_uninterrupted(
        path, corpus_file, tmp_path):
    env = {**os.environ, **PATHS[path][0]}
    args = ["pretrain", "--corpus", corpus_file, *RUN, "--json"]
    straight = tmp_path / "straight"
    summary = _summary(subprocess.run(CLI + args + ["--output", str(straight)], env=env,
                                      capture_output=True, text=True, timeout=TIMEOUT))
    assert (summary["precision"], summary["jit_compile"]) == PATHS[path][1]

    resumed = tmp_path / "resumed"
    command = args + ["--output", str(resumed)]
    checkpoint_dir = tmp_path / "resumed.partial" / "checkpoint"
    # 1. Killed while checkpoint 2 is half written.
    marker = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, PAUSING, str(marker), str(PAUSED_EPOCH),
                             *command], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_for(marker.exists, proc, f"checkpoint {PAUSED_EPOCH}'s write")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert completed_epochs(checkpoint_dir) == [PAUSED_EPOCH - 1]
    assert any(name.startswith(f".epoch-{PAUSED_EPOCH}.")
               for name in os.listdir(checkpoint_dir))  # the half-written one
    # 2. Rerun, killed at a random moment after its next checkpoint.
    proc = subprocess.Popen(CLI + command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    seed = random.SystemRandom().randrange(2**31)
    delay = _kill_at_a_random_moment(proc, checkpoint_dir, random.Random(seed),
                                     after_epoch=PAUSED_EPOCH)
    assert not resumed.exists()
    # 3. Rerun to the end.
    again = _summary(subprocess.run(CLI + command, env=env, capture_output=True,
                                    text=True, timeout=TIMEOUT))
    assert again["resumed_from_step"] >= 3 * (PAUSED_EPOCH + 2) and again["steps"] == 18
    assert (again["precision"], again["jit_compile"]) == PATHS[path][1]
    for a, b in zip(_weights(resumed), _weights(straight), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"killed {delay:.2f} s after a "
                                      f"checkpoint (seed {seed})")


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
        for a, b in zip(resumed, straight, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"worker {index}; worker 1 killed "
                                          f"{delay:.2f} s after its first checkpoint "
                                          f"(seed {seed})")
