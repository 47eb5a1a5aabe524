"""Checkpoints a kill at any moment cannot break, so that a resumed run ends
with exactly the weights of a run that was never interrupted.

At the end of each checkpoint interval (an "epoch" of `fit`) the run writes
`DIR/epoch-{k}/`: the weights with the optimizer's state
(`model.weights.h5`) and dropout's random state (`seed_states.npz`; a Keras
weights file does not hold it). The directory is built under a hidden name
and renamed when complete (`artifacts.publishing_directory`), and the last
two are kept, so a SIGKILL while writing leaves the previous one whole. (Keras's `BackupAndRestore` writes
the weights and then the epoch number in place: a kill between the two
resumes the epoch's data on top of its own result, and a kill mid-write
leaves a truncated JSON file that stops the rerun.)

A resumed run reads the newest epoch every worker holds: workers write
their own directories, and one killed while writing epoch k still holds
k - 1, which the others kept too.
"""

import os
import re
import shutil

import keras
import numpy as np

from keras_gpt1 import artifacts

WEIGHTS_FILE = "model.weights.h5"
SEED_STATE_FILE = "seed_states.npz"
STATE_FILE = "state.json"
KEPT = 2
_EPOCH_RE = re.compile(r"^epoch-(\d+)$")


def seed_variables(model):
    """The model's `SeedGenerator` state variables, in a stable order."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def epoch_directory(directory, epoch):
    return os.path.join(directory, f"epoch-{epoch}")


def completed_epochs(directory):
    """Epochs with a complete checkpoint in `directory`, ascending."""
    if not os.path.isdir(directory):
        return []
    epochs = []
    for name in os.listdir(directory):
        match = _EPOCH_RE.match(name)
        if match and os.path.isfile(os.path.join(directory, name, STATE_FILE)):
            epochs.append(int(match.group(1)))
    return sorted(epochs)


def resume_epoch(placement, directory):
    """The newest epoch every worker has a checkpoint of (0: start anew);
    `placement` is the run's (`TrainingRun.placement`)."""
    epochs = completed_epochs(directory)
    return placement.newest_common(epochs[-1] if epochs else 0)


class ResumableCheckpoints(keras.callbacks.Callback):
    """Save a checkpoint at each epoch end; restore `resume_from` (an epoch
    found by `resume_epoch`, or 0) when training begins."""

    def __init__(self, directory, resume_from=0):
        super().__init__()
        self.directory = directory
        self.resume_from = resume_from

    def on_train_begin(self, logs=None):
        self._remove_unfinished()
        if not self.resume_from:
            return
        source = epoch_directory(self.directory, self.resume_from)
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(source, WEIGHTS_FILE))
        with np.load(os.path.join(source, SEED_STATE_FILE), allow_pickle=False) as saved:
            for i, variable in enumerate(seed_variables(model)):
                variable.assign(saved[f"state_{i}"])

    def _remove_unfinished(self):
        """Remove what a kill left half written (hidden `.epoch-*` work)."""
        if os.path.isdir(self.directory):
            for name in os.listdir(self.directory):
                if name.startswith(".epoch-"):
                    shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

    def on_epoch_end(self, epoch, logs=None):
        completed = epoch + 1  # fit's epochs count from 0
        os.makedirs(self.directory, exist_ok=True)
        target = epoch_directory(self.directory, completed)
        with artifacts.publishing_directory(target, replace=True) as work:
            write_checkpoint(self.model, work, completed)
        for old in completed_epochs(self.directory)[:-KEPT]:
            shutil.rmtree(epoch_directory(self.directory, old), ignore_errors=True)


def write_checkpoint(model, directory, epoch):
    """Epoch `epoch`'s checkpoint into `directory`: the weights with the
    optimizer's state, dropout's random state, then `STATE_FILE` (the
    epoch and step)."""
    model.save_weights(os.path.join(directory, WEIGHTS_FILE))
    save_seed_states(model, os.path.join(directory, SEED_STATE_FILE))
    artifacts.write_json(os.path.join(directory, STATE_FILE), {
        "epoch": epoch, "step": int(model.optimizer.iterations.numpy())})


def save_seed_states(model, path):
    np.savez(path, **{f"state_{i}": keras.ops.convert_to_numpy(v.value)
                      for i, v in enumerate(seed_variables(model))})
