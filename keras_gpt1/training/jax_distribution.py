"""Where a run trains on the JAX backend: data parallelism over the local
devices with `keras.distribution.DataParallel` (JAX's own sharding; no
tf.distribute, no TensorFlow).

`--strategy auto` uses every local device (`keras.distribution.list_devices`:
GPUs, TPU cores, or CPU devices such as
`XLA_FLAGS=--xla_force_host_platform_device_count=2`), `default` one.
`--batch-size` is the global batch: each step's batch is split over the
devices by Keras, so they see exactly the one-device batch. The other
strategies are tf.distribute's and need the TensorFlow backend.
"""

import contextlib

import keras

from keras_gpt1.errors import GPT1InputError

JAX_STRATEGIES = ("auto", "default")


class JaxPlacement:
    """A run's placement on JAX (the interface of `distribution.Placement`).

    Attributes: `replicas`, `strategy_name` ("data_parallel" or
    "default"), `per_replica_batch`, `precision` and `jit_compile`
    (resolved), `chief` (always: one process), `worker_id` (0).
    """

    chief = True
    worker_id = 0

    def __init__(self, strategy, batch_size, precision="auto", jit_compile=None):
        from keras_gpt1.training.precision import resolve

        if strategy not in JAX_STRATEGIES:
            raise GPT1InputError(
                f"--strategy {strategy} is tf.distribute's and needs the TensorFlow "
                "backend; on JAX, 'auto' uses every local device (keras.distribution)")
        devices = keras.distribution.list_devices()
        if strategy == "default":
            devices = devices[:1]
        self.replicas = len(devices)
        if batch_size % self.replicas:
            raise GPT1InputError(
                f"batch_size {batch_size} is not divisible by the {self.replicas} "
                f"devices; use a multiple of {self.replicas}")
        self.per_replica_batch = batch_size // self.replicas
        self.distribution = (keras.distribution.DataParallel(devices=devices)
                             if self.replicas > 1 else None)
        self.strategy_name = "data_parallel" if self.replicas > 1 else "default"
        on_cpu = all(str(d).lower().startswith("cpu") for d in devices)
        self.precision, self.jit_compile = resolve(precision, jit_compile, on_cpu,
                                                   backend="jax")

    def scope(self):
        """Variables made in this scope are laid out for the devices."""
        if self.distribution is None:
            return contextlib.nullcontext()
        return self.distribution.scope()

    def newest_common(self, value):
        """`value` (one process: nothing to agree on)."""
        return value

    def check_same_everywhere(self, what, text):
        """Nothing to check: one process."""

    def log_reduction(self):
        return contextlib.nullcontext()

    def build_before_fit(self, model, dataset_fn):
        """Nothing to do: Keras builds the model while tracing."""
