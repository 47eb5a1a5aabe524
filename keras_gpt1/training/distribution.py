"""tf.distribute strategies for `pretrain` and `finetune`.

`make_strategy(name)` turns a `--strategy` value into a strategy:

- `default`: one device (TensorFlow's default strategy).
- `mirrored`: `MirroredStrategy` over every GPU, or over every logical CPU
  device when there is no GPU.
- `multi_worker`: `MultiWorkerMirroredStrategy`; the cluster comes from
  the `TF_CONFIG` environment variable, checked here first.
- `tpu`: `TPUStrategy` on the TPU named by `TPU_NAME` (default `local`, a
  Cloud TPU VM).
- `auto`: `multi_worker` when `TF_CONFIG` names more than one task,
  `mirrored` when there is more than one GPU, else `default`.

Batches are global: `--batch-size B` is split into `B / replicas` per
replica (`per_replica_batch_size` refuses a remainder). Input pipelines
are built per worker by `distribute_dataset`, which hands each pipeline
its shard; one step sees the same `B` examples whatever the strategy.

Multi-worker strategies must be created before TensorFlow runs any op, so
build the strategy first.
"""

import dataclasses
import json
import os
import sys
import zlib

import tensorflow as tf

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import GPT1TrainingError

TPU_DOCS = "docs/scaling.md"


def read_tf_config():
    """The parsed `TF_CONFIG`, or `None` when unset; checks its shape."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise GPT1InputError(f"TF_CONFIG is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise GPT1InputError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise GPT1InputError(
            "TF_CONFIG has no 'cluster' (e.g. {\"worker\": [\"host1:port\", \"host2:port\"]})"
        )
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(
            isinstance(a, str) and ":" in a for a in addresses
        ):
            raise GPT1InputError(
                f"TF_CONFIG cluster '{job}' must be a list of 'host:port' strings"
            )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise GPT1InputError(
            "TF_CONFIG has no 'task' with 'type' and 'index' (e.g. "
            "{\"type\": \"worker\", \"index\": 0})"
        )
    job, index = task["type"], task["index"]
    if job not in cluster:
        raise GPT1InputError(
            f"TF_CONFIG task type '{job}' is not in the cluster ({', '.join(cluster)})"
        )
    if not isinstance(index, int) or not 0 <= index < len(cluster[job]):
        raise GPT1InputError(
            f"TF_CONFIG task index {index!r} is out of range for '{job}' "
            f"({len(cluster[job])} task(s))"
        )
    return config


def _cluster_size(config):
    return sum(len(v) for v in config["cluster"].values()) if config else 0


def _mirrored_devices():
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]


def _tpu_strategy():
    name = os.environ.get("TPU_NAME", "local")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        text = str(e).strip() or type(e).__name__
        reason = text.splitlines()[0].split(". ")[0].rstrip(".")
        raise GPT1InputError(
            f"--strategy tpu: no TPU found (TPU_NAME={name}): {reason}; run on a "
            f"Cloud TPU VM, see {TPU_DOCS}"
        ) from None


def make_strategy(name="auto"):
    """A `tf.distribute.Strategy` for a `--strategy` value."""
    from keras_gpt1.training.training_run import check_strategy

    check_strategy(name)
    tf_config = read_tf_config()
    if name == "auto":
        if _cluster_size(tf_config) > 1:
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_mirrored_devices())
    if name == "multi_worker":
        if tf_config is None:
            raise GPT1InputError(
                "--strategy multi_worker needs TF_CONFIG (the cluster and this "
                "worker's task); see docs/scaling.md"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy()


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where and how a run trains on TensorFlow (see `place`); the JAX
    backend's is `jax_distribution.JaxPlacement`, with the same interface."""

    strategy: object  # a tf.distribute.Strategy
    per_replica_batch: int
    precision: str  # resolved: never "auto"
    jit_compile: bool  # resolved: never None
    chief: bool

    @property
    def replicas(self):
        return int(self.strategy.num_replicas_in_sync)

    @property
    def strategy_name(self):
        return strategy_name(self.strategy)

    @property
    def worker_id(self):
        return worker_id(self.strategy)

    def scope(self):
        return self.strategy.scope()

    def newest_common(self, value):
        """The smallest of every worker's `value` (a checkpoint epoch)."""
        return min_over_workers(self.strategy, value)

    def check_same_everywhere(self, what, text):
        check_same_on_all_workers(self.strategy, what, text)

    def distribute(self, dataset_fn):
        return distribute_dataset(self.strategy, dataset_fn)

    def log_reduction(self):
        from keras_gpt1.training.keras_strategy_fixes import multi_worker_log_reduction

        return multi_worker_log_reduction(self.strategy)

    def build_before_fit(self, model, dataset_fn):
        from keras_gpt1.training.keras_strategy_fixes import build_from_spec

        build_from_spec(model, dataset_fn)


def place(strategy, batch_size, precision="auto", jit_compile=None):
    """Build the strategy (first: before any TF op), split the global batch,
    and resolve `--precision` and `--xla` for the devices it runs on."""
    from keras_gpt1.training.precision import resolve

    strategy = make_strategy(strategy)
    per_replica_batch = per_replica_batch_size(strategy, batch_size)
    precision, jit_compile = resolve(precision, jit_compile, on_cpu(strategy))
    return Placement(
        strategy=strategy,
        per_replica_batch=per_replica_batch,
        precision=precision,
        jit_compile=xla_supported(strategy, jit_compile),
        chief=is_chief(strategy),
    )


def strategy_name(strategy):
    """A short name for summaries: `default`, `mirrored`, `multi_worker`, `tpu`."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi_worker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    return "default"


def per_replica_batch_size(strategy, batch_size):
    """`batch_size / replicas`; the global batch must split evenly."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise GPT1InputError(
            f"batch_size {batch_size} is not divisible by the {replicas} replicas "
            f"of the {strategy_name(strategy)} strategy; use a multiple of {replicas}"
        )
    return batch_size // replicas


def is_chief(strategy):
    """Whether this process writes checkpoints, logs and the output."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_id(strategy):
    """This worker's index (0 on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)


def distribute_dataset(strategy, dataset_fn):
    """`dataset_fn(context)` on each input pipeline, distributed.

    `context` is a `tf.distribute.InputContext`: build a dataset of
    `context.get_per_replica_batch_size(B)` examples per batch holding
    shard `context.input_pipeline_id` of `context.num_input_pipelines`.
    With one device the dataset is returned as is.
    """
    if strategy.num_replicas_in_sync == 1 and not isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.TPUStrategy)
    ):
        return dataset_fn(tf.distribute.InputContext())
    return strategy.distribute_datasets_from_function(dataset_fn)


def min_over_workers(strategy, value):
    """The smallest of every worker's int `value` (on one worker, `value`)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return value
    values = strategy.experimental_distribute_values_from_function(
        lambda _: tf.constant([value], tf.int64))
    return int(tf.reduce_min(strategy.gather(values, axis=0)).numpy())


def check_same_on_all_workers(strategy, what, text):
    """Raise unless `text` (e.g. a vocabulary) is identical on every worker."""
    if strategy.num_replicas_in_sync == 1:
        return
    fingerprint = float(zlib.crc32(text.encode("utf-8")) & 0xFFFFFF)  # exact in float32

    def value_fn(_):
        return tf.constant([fingerprint], tf.float32)

    values = strategy.experimental_distribute_values_from_function(value_fn)
    gathered = strategy.gather(values, axis=0).numpy()
    if (gathered != fingerprint).any():
        raise GPT1TrainingError(
            f"the workers built different {what}; every worker must read the "
            "same files with the same settings"
        )


def on_cpu(strategy):
    """Whether `strategy` trains on CPU devices (no GPU, not a TPU)."""
    return not (tf.config.list_logical_devices("GPU")
                or isinstance(strategy, tf.distribute.TPUStrategy))


def xla_supported(strategy, jit_compile):
    """`jit_compile`, except off for several replicas on CPU devices, where
    TensorFlow cannot compile the step (a variable on another device)."""
    if jit_compile and on_cpu(strategy) and strategy.num_replicas_in_sync > 1:
        print(f"keras-gpt1: note: XLA is off for {strategy.num_replicas_in_sync} "
              "replicas on CPU devices", file=sys.stderr)
        return False
    return jit_compile

