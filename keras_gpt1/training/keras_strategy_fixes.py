"""Two fixes that let Keras 3 `fit`/`evaluate` run under
`MultiWorkerMirroredStrategy` (keras-team/keras#20585), applied only while
a multi-worker strategy trains.

1. Keras builds the model by reducing a real batch across replicas, which
   fails for integer batches ("Attempt to convert a value (PerReplica
   ...) to a Tensor"). `build_from_spec` builds from zeros shaped like a
   batch instead.
2. Keras averages each step's scalar logs across workers with
   `reduce("MEAN", v, axis=0)`, which fails for scalars ("Invalid
   reduction dimension 0 for input with 0 dimensions").
   `multi_worker_log_reduction` averages scalars with `axis=None`.
"""

import contextlib

import tensorflow as tf

from keras_gpt1.keras_internals import INTERNALS
from keras_gpt1.keras_internals import internal


def build_from_spec(model, dataset_fn):
    """Make `fit`/`evaluate` build `model` (compiled, under a strategy)
    from zeros shaped like one batch of `dataset_fn(InputContext())`.
    Nothing to do for a model made outside any strategy scope: Keras then
    builds it while tracing (the same test Keras makes)."""
    if getattr(model, "_distribute_strategy", None) is None:
        return
    spec = dataset_fn(tf.distribute.InputContext()).element_spec
    batch = tf.nest.map_structure(
        lambda s: tf.zeros([d or 1 for d in s.shape], s.dtype), spec
    )
    internal("trainer_symbolic_build")  # fails loudly if Keras renamed it
    build = model._maybe_symbolic_build

    def build_with_zeros(iterator=None, data_batch=None):
        return build(data_batch=batch)

    model._maybe_symbolic_build = build_with_zeros


@contextlib.contextmanager
def multi_worker_log_reduction(strategy):
    """Within this block, scalar logs are averaged across workers with
    `axis=None` (no-op unless `strategy` is multi-worker)."""
    import sys

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    original = internal("trainer_reduce_per_replica")
    trainer = sys.modules[INTERNALS["trainer_reduce_per_replica"][0]]

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def reduce(v):
            if v.shape.rank == 0:
                return strategy.reduce("MEAN", v, axis=None)
            return original(v, strategy, reduction)

        return tf.nest.map_structure(reduce, values)

    trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
