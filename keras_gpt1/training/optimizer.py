"""The paper's optimizer: Adam, linear warmup then cosine decay to zero,
decoupled weight decay on weight matrices only, global-norm clipping."""

import keras

from keras_gpt1.hyperparameters import GLOBAL_CLIPNORM
from keras_gpt1.hyperparameters import WEIGHT_DECAY


def decay_exempt_variables(model):
    """Variables that get no weight decay: rank < 2 (biases, LayerNorm gains
    and offsets). Embeddings and kernels decay, as in the original code."""
    return [v for v in model.trainable_variables if len(v.shape) < 2]


def warmup_cosine_schedule(learning_rate, warmup_steps, total_steps):
    """0 -> `learning_rate` linearly over `warmup_steps`, then cosine to 0
    at `total_steps`."""
    warmup_steps = max(0, min(warmup_steps, total_steps - 1))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else learning_rate,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=0.0,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="keras_gpt1")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> `learning_rate` linearly over `warmup_steps`, then linearly to 0
    at `total_steps` (the paper's fine-tuning schedule)."""

    def __init__(self, learning_rate, warmup_steps, total_steps):
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        from keras import ops

        step = ops.cast(step, "float32")
        warmup = ops.maximum(float(self.warmup_steps), 1.0)
        rising = step / warmup
        remaining = max(self.total_steps - self.warmup_steps, 1)
        falling = (float(self.total_steps) - step) / float(remaining)
        fraction = ops.where(step < self.warmup_steps, rising, falling)
        return self.learning_rate * ops.clip(fraction, 0.0, 1.0)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


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
    """

    def __init__(self, *args, fused=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fused = fused

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


def _replica_context_with_several_replicas():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync < 2:
        return None
    return replica


def make_optimizer(
    model,
    schedule,
    weight_decay=WEIGHT_DECAY,
    global_clipnorm=GLOBAL_CLIPNORM,
):
    """AdamW on `schedule`; biases and LayerNorm parameters are exempt from
    decay. Call after the model is built."""
    optimizer = GPT1AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        global_clipnorm=global_clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_list=decay_exempt_variables(model))
    return optimizer
