"""The paper's learning-rate schedules: linear warmup from 0, then decay to
0 at the last step, by a cosine (pre-training, §4.1) or a line
(fine-tuning, §4.1 "linear learning rate decay schedule with warmup over
0.2% of training").

A schedule made before the length of training is known (`compile()` with
no arguments) has `total_steps=None`: it warms up and then holds the peak
until `fit` tells it the run's length (`ScheduleLengthFromFit`).
"""

import math
import warnings

import keras
from keras import ops

COSINE = "cosine"
LINEAR = "linear"
DECAYS = (COSINE, LINEAR)


@keras.saving.register_keras_serializable(package="keras_gpt1")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> `learning_rate` linearly over the warmup, then `decay` ("cosine"
    or "linear") to 0 at `total_steps`.

    Args:
        learning_rate: the peak rate.
        total_steps: the run's length in optimizer steps; None until known
            (the rate then holds the peak after the warmup).
        warmup_steps: steps of the linear warmup (at most);
        warmup_fraction: and at most this fraction of `total_steps`. With
            both, the shorter; with neither, no warmup.
        decay: "cosine" (pre-training) or "linear" (fine-tuning).

    Called with the optimizer's step (0 for the first update) -> float32
    rate.
    """

    def __init__(self, learning_rate, total_steps=None, warmup_steps=None,
                 warmup_fraction=None, decay=COSINE):
        if decay not in DECAYS:
            raise ValueError(f"decay must be one of {DECAYS}; got {decay!r}")
        self.learning_rate = float(learning_rate)
        self.total_steps = None if total_steps is None else int(total_steps)
        self.warmup_steps = None if warmup_steps is None else int(warmup_steps)
        self.warmup_fraction = warmup_fraction
        self.decay = decay

    def resolved_warmup_steps(self):
        """The warmup in steps (never the whole run)."""
        limits = []
        if self.warmup_steps is not None:
            limits.append(self.warmup_steps)
        if self.warmup_fraction is not None:
            known = self.total_steps is not None
            if known or self.warmup_steps is None:
                limits.append(int(round(self.warmup_fraction * (self.total_steps or 0))))
        warmup = min(limits) if limits else 0
        if self.total_steps is not None:
            warmup = min(warmup, self.total_steps - 1)
        return max(warmup, 0)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = self.resolved_warmup_steps()
        rising = step / float(max(warmup, 1))
        if self.total_steps is None:
            falling = ops.ones_like(step)
        else:
            progress = ops.clip(
                (step - warmup) / float(max(self.total_steps - warmup, 1)), 0.0, 1.0)
            if self.decay == COSINE:
                falling = 0.5 * (1.0 + ops.cos(math.pi * progress))
            else:
                falling = 1.0 - progress
        fraction = ops.where(step < warmup, rising, falling)
        return self.learning_rate * fraction

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_fraction": self.warmup_fraction,
            "decay": self.decay,
        }


def warmup_cosine_schedule(learning_rate, warmup_steps, total_steps):
    """The pre-training schedule: 0 -> `learning_rate` over `warmup_steps`,
    then cosine to 0 at `total_steps`."""
    return WarmupDecay(learning_rate, total_steps, warmup_steps, decay=COSINE)


@keras.saving.register_keras_serializable(package="keras_gpt1")
class WarmupLinearDecay(WarmupDecay):
    """The fine-tuning schedule: 0 -> `learning_rate` linearly over
    `warmup_steps`, then linearly to 0 at `total_steps`. (Its own name so
    that models saved with it load.)"""

    def __init__(self, learning_rate, warmup_steps, total_steps, **kwargs):
        kwargs.pop("decay", None)
        super().__init__(learning_rate, total_steps, warmup_steps, decay=LINEAR,
                         **kwargs)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


class ScheduleLengthFromFit(keras.callbacks.Callback):
    """Give a `WarmupDecay` without a length the length of this `fit`.

    When training begins, `total_steps` becomes the optimizer's step plus
    this `fit`'s epochs times its steps per epoch, so the rate reaches 0 at
    the last step. Added by the models' `fit` when `compile()` chose the
    schedule; a schedule that already has a length is left as it is. Keras
    traces the training step after `on_train_begin`, so the traced step
    reads the new length.
    """

    def __init__(self, schedule, initial_epoch=0):
        super().__init__()
        self.schedule = schedule
        self.initial_epoch = initial_epoch

    def on_train_begin(self, logs=None):
        if self.schedule.total_steps is not None:
            return
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        if not steps or not epochs:
            warnings.warn(
                "the learning rate holds its peak: fit() does not know its "
                "number of steps (give steps_per_epoch) for the decay to 0",
                stacklevel=2,
            )
            return
        done = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        self.schedule.total_steps = done + (epochs - self.initial_epoch) * steps


def with_schedule_length(optimizer, callbacks, initial_epoch=0):
    """`callbacks` plus a `ScheduleLengthFromFit` when `optimizer` (or the
    one a `LossScaleOptimizer` wraps) runs on a `WarmupDecay` that does not
    know its length yet. The models' `fit` passes its callbacks through
    this."""
    callbacks = list(callbacks or [])
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(inner, "learning_rate_schedule", None)
    if isinstance(schedule, WarmupDecay) and schedule.total_steps is None:
        callbacks.append(ScheduleLengthFromFit(schedule, initial_epoch))
    return callbacks
