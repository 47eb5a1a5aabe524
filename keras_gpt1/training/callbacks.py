"""Callbacks of the training runs: stop at a step count, stop on a
non-finite loss, record the step in each epoch's logs."""

import math

import keras

from keras_gpt1.errors import GPT1TrainingError


class RecordStep(keras.callbacks.Callback):
    """Adds `step` (optimizer updates so far) to each epoch's logs, so the
    CSV history can be plotted against steps."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["step"] = int(self.model.optimizer.iterations.numpy())


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise `GPT1TrainingError` as soon as the loss is NaN or infinite.

    Raising (rather than `stop_training`) ends `fit` before the epoch-end
    checkpoint, so the last good checkpoint is never overwritten.
    """

    def __init__(self, steps_per_checkpoint):
        super().__init__()
        self.steps_per_checkpoint = steps_per_checkpoint

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = int(self.model.optimizer.iterations.numpy())
            good = (step - 1) // self.steps_per_checkpoint * self.steps_per_checkpoint
            raise GPT1TrainingError(
                f"loss became {float(loss)} at step {step}; the last good "
                f"checkpoint (step {good}) is kept: rerun the same command to "
                "resume from it, or delete the .partial directory and lower "
                "--learning-rate"
            )


class StopAtStep(keras.callbacks.Callback):
    """Stop once the optimizer has made `max_steps` updates."""

    def __init__(self, max_steps):
        super().__init__()
        self.max_steps = max_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.max_steps:
            self.model.stop_training = True
