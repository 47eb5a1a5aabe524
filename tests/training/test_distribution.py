"""Strategies: 2 replicas equal 1, two workers on 127.0.0.1 agree and write
one output, and every misconfiguration gives a one-line error.

Each distributed run is its own process (`strategy_worker.py`): logical
CPU devices and collectives must be set up before TensorFlow starts. XLA
is off with several replicas on CPU devices (TensorFlow cannot compile
the step there), on in the one-device run.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import free_ports

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.training import distribution

WORKER = os.path.join(os.path.dirname(__file__), "strategy_worker.py")
# Summed gradients come in another order on 2 replicas; 2 AdamW steps at
# lr 1e-3 then differ by ~5e-7.
WEIGHT_TOLERANCE = 1e-5


def _run_worker(tmp_path, name, *args, env=None, wait=True):
    cmd = [sys.executable, WORKER, str(tmp_path / "corpus.txt"), str(tmp_path / name),
           str(tmp_path / f"{name}.npz"), "--steps", "2", "--batch-size", "4", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})
    return _finish(proc) if wait else proc


def _finish(proc):
    out, err = proc.communicate(timeout=420)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _weights(path):
    with np.load(path, allow_pickle=False) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def _max_difference(a, b):
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from conftest import write_corpus

    root = tmp_path_factory.mktemp("strategies")
    write_corpus(root / "corpus.txt")
    return root


@pytest.fixture(scope="module")
def one_device(runs):
    summary = _run_worker(runs, "one_device", "--strategy", "default")
    return summary, _weights(runs / "one_device.npz")


REPLICA_STEP = os.path.join(os.path.dirname(__file__), "replica_step_worker.py")


def _applied_gradient(tmp_path, name, *args):
    out = str(tmp_path / f"{name}.npz")
    done = subprocess.run([sys.executable, REPLICA_STEP, out, *args],
                          capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-3000:]
    return _weights(out)


@pytest.mark.slow
def test_two_replicas_apply_the_gradient_of_one_device_with_plain_sgd(tmp_path):
    # Plain SGD: the applied update is lr x the gradient itself, so a
    # gradient scaled by the number of replicas (a sum where a mean belongs)
    # shows, where Adam with clipping would cancel the scale.
    one = _applied_gradient(tmp_path, "one", "--replicas", "1")
    two = _applied_gradient(tmp_path, "two", "--replicas", "2")
    largest = max(float(np.abs(g).max()) for g in one)
    assert largest > 1e-3  # the step moved the weights
    assert _max_difference(two, one) < 1e-5 * max(1.0, largest)
    # The same check on a deliberately wrong reduction: it fails.
    wrong = _applied_gradient(tmp_path, "wrong", "--replicas", "2", "--wrong-reduction")
    assert _max_difference(wrong, one) > 0.5 * largest


@pytest.mark.slow
def test_two_mirrored_replicas_take_the_same_step_as_one_device(runs, one_device):
    summary = _run_worker(runs, "mirrored", "--strategy", "mirrored", "--cpu-devices", "2")
    assert summary["strategy"] == "mirrored" and summary["replicas"] == 2
    assert summary["jit_compile"] is False and one_device[0]["jit_compile"] is True
    assert summary["steps"] == 2
    difference = _max_difference(_weights(runs / "mirrored.npz"), one_device[1])
    assert difference < WEIGHT_TOLERANCE


@pytest.mark.slow
def test_mirrored_run_killed_and_rerun_ends_with_the_uninterrupted_weights(runs):
    args = ["--strategy", "mirrored", "--cpu-devices", "2", "--steps", "6",
            "--checkpoint-every", "2", "--dropout", "0.1"]
    _run_worker(runs, "straight", *args)
    killed = _run_worker(runs, "resumed", *args, "--crash-at", "5", wait=False)
    killed.communicate(timeout=420)
    assert killed.returncode == 3 and (runs / "resumed.partial").is_dir()
    summary = _run_worker(runs, "resumed", *args)
    assert summary["resumed_from_step"] == 4 and summary["steps"] == 6
    # Same data position, optimizer state and dropout masks on both replicas.
    assert _max_difference(_weights(runs / "resumed.npz"), _weights(runs / "straight.npz")) == 0.0


@pytest.mark.slow
def test_two_workers_agree_and_only_the_chief_writes(runs, one_device):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = [
        _run_worker(runs, "cluster", "--strategy", "multi_worker", wait=False,
                    env={"TF_CONFIG": json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": i}})})
        for i in range(2)
    ]
    summaries = [_finish(p) for p in procs]
    assert [s["replicas"] for s in summaries] == [2, 2]
    assert all(s["strategy"] == "multi_worker" and s["steps"] == 2 for s in summaries)
    assert summaries[0]["val_loss"] == summaries[1]["val_loss"]
    chief, other = _weights(runs / "cluster.0.npz"), _weights(runs / "cluster.1.npz")
    assert _max_difference(chief, other) == 0.0
    assert _max_difference(chief, one_device[1]) < WEIGHT_TOLERANCE
    written = sorted(p for p in os.listdir(runs) if p.startswith("cluster"))
    # One model directory; no worker or .partial directory left behind.
    assert written == ["cluster", "cluster.0.npz", "cluster.1.npz"]
    assert "model.keras" in os.listdir(runs / "cluster")


def test_tpu_strategy_without_a_tpu_is_a_clear_error():
    with pytest.raises(GPT1InputError, match=r"^--strategy tpu: no TPU found \(TPU_NAME=local\).*"
                       r"run on a Cloud TPU VM, see docs/scaling.md$"):
        distribution.make_strategy("tpu")


def test_unknown_strategy_is_refused():
    with pytest.raises(GPT1InputError, match="unknown strategy 'horovod'; choose one of auto, "
                       "default, mirrored, multi_worker, tpu"):
        distribution.make_strategy("horovod")


@pytest.mark.parametrize(
    "tf_config, message",
    [
        ("{worker: [", "TF_CONFIG is not valid JSON: Expecting property name"),
        ("[1, 2]", "TF_CONFIG must be a JSON object with 'cluster' and 'task'"),
        ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG has no 'cluster'"),
        ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}',
         "TF_CONFIG cluster 'worker' must be a list of 'host:port' strings"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}}', "TF_CONFIG has no 'task' with 'type' and 'index'"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
         "TF_CONFIG task type 'chief' is not in the cluster (worker)"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
         "TF_CONFIG task index 2 is out of range for 'worker' (2 task(s))"),
    ],
)
def test_malformed_tf_config_is_refused(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(GPT1InputError) as info:
        distribution.make_strategy("multi_worker")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_multi_worker_without_tf_config_is_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(GPT1InputError, match="--strategy multi_worker needs TF_CONFIG"):
        distribution.make_strategy("multi_worker")


class _Replicas:
    def __init__(self, n):
        self.num_replicas_in_sync = n


def test_global_batch_splits_evenly_or_is_refused():
    assert distribution.per_replica_batch_size(_Replicas(4), 32) == 8
    with pytest.raises(GPT1InputError, match="batch_size 30 is not divisible by the 4 "
                       "replicas of the default strategy; use a multiple of 4"):
        distribution.per_replica_batch_size(_Replicas(4), 30)


def test_auto_is_one_device_here(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = distribution.make_strategy("auto")
    assert distribution.strategy_name(strategy) == "default"
    assert strategy is tf.distribute.get_strategy()
    assert distribution.is_chief(strategy)
