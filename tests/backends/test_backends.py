"""GPT-1 on the other Keras backends: `test_on_every_backend.py` again
under JAX and under torch, each in its own process (the backend is fixed
at import) where TensorFlow and TensorFlow Text cannot be imported (a
machine with JAX or PyTorch need not have them), and one model-parallel
`fit` step on 2 virtual JAX devices (`jax_model_parallel.py`). JAX comes
with the `jax` extra, torch with the `reference` extra."""

import json
import os
import subprocess
import sys

import pytest
from conftest import pythonpath_without_tensorflow

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _run(argv, backend, without_tensorflow_in=None):
    path = ROOT
    env = {**os.environ, "KERAS_BACKEND": backend}
    if without_tensorflow_in is not None:
        path = pythonpath_without_tensorflow(without_tensorflow_in, ROOT)
        env["KERAS_GPT1_TEST_WITHOUT_TENSORFLOW"] = "1"
    env["PYTHONPATH"] = path
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_model_tests_pass_without_tensorflow_on(backend, tmp_path):
    pytest.importorskip(backend, reason=f"needs {backend} (the jax or reference extra)",
                        exc_type=ImportError)
    result = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider",
                   os.path.join(HERE, "test_on_every_backend.py")], backend,
                  without_tensorflow_in=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def test_a_model_parallel_fit_step_on_two_jax_devices_equals_one_device():
    pytest.importorskip("jax", reason="needs jax (the jax extra)", exc_type=ImportError)
    result = _run([os.path.join(HERE, "jax_model_parallel.py")], "jax")
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2
    assert "model" in report["c_attn_kernel_sharding"]  # really split
    assert report["largest_step"] > 1e-2  # the step moved the weights ...
    assert report["max_weight_difference"] < 1e-6  # ... the same way
