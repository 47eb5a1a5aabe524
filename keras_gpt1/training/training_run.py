"""What pre-training and fine-tuning runs share: place the run (strategy,
batch split, precision, XLA), build and compile the model under the
strategy with the paper's optimizer, fit, summarise, and hand back a plain
float32 model to publish. On TensorFlow the placement is a tf.distribute
strategy (`distribution.py`); on JAX, `keras.distribution` data
parallelism (`jax_distribution.py`), with the same interface.

Runs feed the model batches of token ids built by `keras_gpt1.data`, so
they call `keras.Model.fit` itself: keras-hub's `fit` would send them
through the preprocessor (made for raw strings) and cannot take the
distributed datasets of a `tf.distribute` strategy.

    run = TrainingRun("auto", batch_size=32)
    model = run.compile(build_model, schedule, dataset_fn)  # build_model(dtype)
    history = run.fit(model, run.distribute(dataset_fn), epochs=..., ...)
    model = run.publishable(model, build_float32_model)
"""

import time

import keras

from keras_gpt1.choices import STRATEGIES
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.hyperparameters import GLOBAL_CLIPNORM
from keras_gpt1.hyperparameters import WEIGHT_DECAY
from keras_gpt1.optimizers import make_optimizer
from keras_gpt1.training.precision import check_precision
from keras_gpt1.training.precision import rebuild_with_weights
from keras_gpt1.training.precision import with_loss_scaling


def check_settings(config, counts):
    """What every run's settings must satisfy (`GPT1InputError` names the
    first that does not): each field of `counts` is >= 1 (or None), the
    learning rate > 0 (or None: chosen later), dropout in [0, 1), and the
    precision and strategy are known ones."""
    for name in counts:
        value = getattr(config, name)
        if value is not None and value < 1:
            raise GPT1InputError(f"{name} must be >= 1; got {value}")
    if config.learning_rate is not None and config.learning_rate <= 0:
        raise GPT1InputError(f"learning_rate must be > 0; got {config.learning_rate}")
    if not 0.0 <= config.dropout < 1.0:
        raise GPT1InputError(f"dropout must be in [0, 1); got {config.dropout}")
    check_precision(config.precision)
    check_strategy(config.strategy)


def check_strategy(name):
    """`name` if it is a `--strategy` value, else a one-line error."""
    if name not in STRATEGIES:
        raise GPT1InputError(
            f"unknown strategy '{name}'; choose one of {', '.join(STRATEGIES)}")
    return name


class TrainingRun:
    """One run's placement and the steps every run takes.

    Args:
        strategy, precision, jit_compile: the `--strategy`, `--precision`
            and `--xla` values (`auto` / None resolved here).
        batch_size: the global batch, split evenly over the replicas.

    Build the run first: a multi-worker strategy must exist before
    TensorFlow runs any op.
    """

    def __init__(self, strategy, batch_size, precision="auto", jit_compile=None):
        self.backend = keras.backend.backend()
        if self.backend == "tensorflow":
            from keras_gpt1.training import distribution

            self.placement = distribution.place(strategy, batch_size, precision,
                                                jit_compile)
        elif self.backend == "jax":
            from keras_gpt1.training.jax_distribution import JaxPlacement

            self.placement = JaxPlacement(strategy, batch_size, precision, jit_compile)
        else:
            raise GPT1InputError(
                f"training runs on the TensorFlow or JAX backend, not {self.backend!r} "
                "(set KERAS_BACKEND)")
        self.seconds = 0.0

    @property
    def chief(self):
        """Whether this process writes checkpoints, logs and the output."""
        return self.placement.chief

    @property
    def precision(self):
        return self.placement.precision

    @property
    def per_replica_batch(self):
        return self.placement.per_replica_batch

    def compile(self, build_model, schedule, dataset_fn, weight_decay=WEIGHT_DECAY,
                clipnorm=GLOBAL_CLIPNORM):
        """`build_model(dtype)` under the strategy, compiled with the paper's
        optimizer on `schedule` (loss scaling for float16), ready for
        `fit`/`evaluate` on batches shaped like `dataset_fn`'s."""
        with self.placement.scope():
            model = build_model(self.precision)
            optimizer = make_optimizer(schedule, weight_decay, clipnorm)
            model.compile(
                optimizer=with_loss_scaling(optimizer, self.precision),
                jit_compile=self.placement.jit_compile,
            )
        self.placement.build_before_fit(model, dataset_fn)
        return model

    def whole_batches(self, examples, batch_size):
        """`examples` cut to whole global batches when there are several
        replicas (every replica then steps through the same number of
        batches); unchanged on one device."""
        if self.placement.replicas == 1:
            return examples
        usable = len(examples) // batch_size * batch_size
        if usable == 0:
            raise GPT1InputError(
                f"{len(examples)} validation examples do not fill one global batch "
                f"of {batch_size} on {self.placement.replicas} replicas; add data or "
                "lower --batch-size")
        return examples[:usable]

    def distribute(self, dataset_fn):
        """`dataset_fn(input_context)` on each input pipeline (TensorFlow)."""
        return self.placement.distribute(dataset_fn)

    def reducing_logs(self):
        """Wrap `fit`/`evaluate` calls of a multi-worker run in this."""
        return self.placement.log_reduction()

    def fit(self, model, train, verbose=1, **fit_kwargs):
        """`fit` on `train` (batches the model reads as they are); only the
        chief prints progress. The dataset shuffles itself, reproducibly, so
        `fit` does not. Wall time in `self.seconds`."""
        start = time.time()
        with self.reducing_logs():
            history = keras.Model.fit(
                model, train, shuffle=False, verbose=verbose if self.chief else 0,
                **fit_kwargs,
            )
        self.seconds = time.time() - start
        return history

    def evaluate(self, model, dataset):
        """`[loss, *metrics]` of `model` on `dataset` (batches the model
        reads as they are)."""
        with self.reducing_logs():
            return keras.Model.evaluate(model, dataset, verbose=0)

    def summary(self, model):
        """The summary keys every run reports."""
        return {
            "parameters": int(model.count_params()),
            "strategy": self.placement.strategy_name,
            "replicas": self.placement.replicas,
            "precision": self.precision,
            "jit_compile": bool(model.jit_compile),
        }

    def publishable(self, model, build_float32_model):
        """What a run publishes, the same whatever its precision and
        strategy: a float32 copy of `model` built outside the strategy
        (`build_float32_model()`) holding its weights, compiled with the
        model's defaults (the paper's recipe) and without optimizer state.
        Training resumes from checkpoints; a user's `fit` on the loaded
        model starts a new schedule."""
        copy = rebuild_with_weights(model, build_float32_model)
        copy.compile()
        return copy
