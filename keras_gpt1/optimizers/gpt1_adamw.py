"""The paper's optimizer: Adam with decoupled weight decay on weight
matrices only and global-norm clipping (`GPT1AdamW`)."""

import keras
import numpy as np

from keras_gpt1 import hyperparameters as paper
from keras_gpt1.hyperparameters import GLOBAL_CLIPNORM
from keras_gpt1.hyperparameters import WEIGHT_DECAY
from keras_gpt1.keras_internals import MissingInternalError
from keras_gpt1.keras_internals import internal

# Keras's Adam moments, read by the fused update (private attributes).
ADAM_SLOTS = ("_momentums", "_velocities")


def is_decayed(variable):
    """The paper's rule ("modified L2 regularization ... on all non bias or
    gain weights"): weight matrices and embeddings (rank >= 2) decay."""
    return len(variable.shape) >= 2


def decay_exempt_variables(model):
    """`model`'s trainable variables that get no weight decay: biases,
    LayerNorm gains and offsets."""
    return [v for v in model.trainable_variables if not is_decayed(v)]


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1AdamW(keras.optimizers.AdamW):
    """`AdamW` whose global-norm clipping sees the whole batch's gradient,
    with one fused update op per variable on TensorFlow.

    Under a TensorFlow distribution strategy Keras clips each replica's
    share of the gradient before summing the shares, which is not the
    global norm of the batch's gradient (with 2 replicas, one step moved
    weights up to 1.3e-3 away from the same step on one device). Here the
    shares are summed first to measure the norm, and each share is scaled
    by the same factor, so the summed update equals one device's.

    `fused` (TensorFlow only): the Adam moments and the weight move in one
    `ResourceApplyAdam` kernel per variable, the formula of Keras's
    `Adam.update_step` (tested equal to it within float32 rounding: the
    kernel forms 1 - beta in float32), instead of about ten elementwise
    ops. Decoupled weight decay and clipping are Keras's, unchanged.
    Sparse gradients and `amsgrad` take Keras's path.

    Weight decay follows the paper's rule on whatever variables the
    optimizer is built for: weight matrices and embeddings decay; biases and
    LayerNorm gains and offsets (rank < 2) do not. The rule lives here, not
    in a list of variables, so it holds after `save` / `load_model` too.

    State saved with a model (a `.keras` file of a model that trained)
    loads into an optimizer not yet built: it is kept and assigned when the
    optimizer builds for the same variables, so training goes on with its
    moments (Keras would skip it with a warning).
    """

    def __init__(self, learning_rate=0.001, *args, fused=True, **kwargs):
        super().__init__(learning_rate, *args, **kwargs)
        self.fused = fused
        # The schedule object itself (Keras's `learning_rate` is its value).
        self.learning_rate_schedule = (
            learning_rate
            if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule)
            else None
        )
        self._pending_state = None
        # Overridden below; a Keras without them would skip the fix silently.
        internal("optimizer_clip_gradients")
        internal("optimizer_variable_index")

    def build(self, var_list):
        if not self.built:
            self.exclude_from_weight_decay(
                var_list=[v for v in var_list if not is_decayed(v)])
        super().build(var_list)
        if self.fused and not all(hasattr(self, name) for name in ADAM_SLOTS):
            raise MissingInternalError(
                f"keras-gpt1's fused Adam update reads AdamW.{ADAM_SLOTS}, which "
                f"keras {keras.version()} does not have; pass fused=False"
            )
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            with _outside_any_trace():  # TensorFlow builds while tracing the step
                self._assign_state(state)

    def load_own_variables(self, store):
        """Keras's, except that the state of a built optimizer loading into
        one not built yet waits for `build` (see the class docstring)."""
        state = [np.asarray(store[str(i)]) for i in range(len(store.keys()))]
        if not self.built and len(state) > len(self.variables):
            self._pending_state = state
            return
        if len(state) < len(self.variables) and len(state) <= 2:
            # Saved before it ever trained: only the step counter and the
            # rate were there; this optimizer starts afresh either way.
            return
        self._assign_state(state)

    def _assign_state(self, state):
        if len(state) != len(self.variables):
            raise ValueError(
                f"optimizer state of {len(state)} variables does not fit this "
                f"optimizer's {len(self.variables)} (another model's?)"
            )
        for variable, value in zip(self.variables, state, strict=True):
            variable.assign(value)

    def update_step(self, gradient, variable, learning_rate):
        if not self._fused_update_applies(gradient, variable):
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )

    def _fused_update_applies(self, gradient, variable):
        if not self.fused or self.amsgrad or keras.backend.backend() != "tensorflow":
            return False
        import tensorflow as tf

        return isinstance(gradient, tf.Tensor) and hasattr(variable, "handle")

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}

    def _clip_gradients(self, grads):
        replica = _replica_context_with_several_replicas()
        if not self.global_clipnorm or replica is None:
            return super()._clip_gradients(grads)
        import tensorflow as tf

        present = [g for g in grads if g is not None]
        summed = replica.all_reduce(tf.distribute.ReduceOp.SUM, present)
        norm = tf.linalg.global_norm(summed)
        scale = tf.minimum(1.0, self.global_clipnorm / tf.maximum(norm, 1e-12))
        return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads]


def _outside_any_trace():
    """A context that runs ops eagerly (TensorFlow's `init_scope`; other
    backends build optimizers outside their compiled functions)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.init_scope()
    import contextlib

    return contextlib.nullcontext()


def _replica_context_with_several_replicas():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync < 2:
        return None
    return replica


def make_optimizer(
    schedule,
    weight_decay=WEIGHT_DECAY,
    global_clipnorm=GLOBAL_CLIPNORM,
):
    """`GPT1AdamW` on `schedule` (biases and LayerNorm parameters exempt
    from decay by its rule)."""
    return GPT1AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        global_clipnorm=global_clipnorm,
    )


def pretraining_optimizer(total_steps=None):
    """The paper's pre-training recipe (§4.1): `GPT1AdamW` at 2.5e-4, warmup
    over 2,000 steps (at most a tenth of the run), cosine to 0 at
    `total_steps` (None: set by the next `fit`), weight decay 0.01,
    clipping at global norm 1."""
    from keras_gpt1.optimizers.learning_rate_schedules import COSINE
    from keras_gpt1.optimizers.learning_rate_schedules import WarmupDecay

    schedule = WarmupDecay(
        paper.PRETRAIN_LEARNING_RATE, total_steps,
        warmup_steps=paper.PRETRAIN_WARMUP_STEPS,
        warmup_fraction=paper.PRETRAIN_MAX_WARMUP_FRACTION, decay=COSINE,
    )
    return make_optimizer(schedule)


def finetuning_optimizer(hidden_dim, total_steps=None):
    """The paper's fine-tuning recipe (§4.1) for a model `hidden_dim` wide:
    `GPT1AdamW` at `hyperparameters.finetune_learning_rate(hidden_dim)`
    (6.25e-5 at 768), warmup over 0.2% of `total_steps` (None: set by the
    next `fit`), then linear decay to 0; weight decay 0.01, clipping at
    global norm 1."""
    from keras_gpt1.optimizers.learning_rate_schedules import LINEAR
    from keras_gpt1.optimizers.learning_rate_schedules import WarmupDecay

    schedule = WarmupDecay(
        paper.finetune_learning_rate(hidden_dim), total_steps,
        warmup_fraction=paper.FINETUNE_WARMUP_FRACTION, decay=LINEAR,
    )
    return make_optimizer(schedule)
