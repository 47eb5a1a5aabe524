"""Dropout's random state in checkpoints, so a resumed run draws the same
dropout masks as an uninterrupted one.

Keras keeps each dropout layer's random state in a `SeedGenerator`
variable that `save_weights` (and so `BackupAndRestore`) does not save.
`SeedStateBackup` writes those variables beside the checkpoint at every
epoch end and restores them when training resumes from that epoch.
"""

import json
import os

import keras
import numpy as np

SEED_STATE_FILE = "seed_states.npz"


def seed_variables(model):
    """The model's `SeedGenerator` state variables, in a stable order."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class SeedStateBackup(keras.callbacks.Callback):
    """Save dropout's random state with each checkpoint; restore it on resume.

    Place it after `BackupAndRestore`, whose `training_metadata.json` tells
    which epoch the weights are from: the random state is restored only if
    it was saved at that same epoch (a kill between the two writes leaves
    them apart, and then training goes on with fresh random state).
    """

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = backup_dir
        self.path = os.path.join(backup_dir, SEED_STATE_FILE)

    def _checkpoint_epoch(self):
        path = os.path.join(self.backup_dir, "training_metadata.json")
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as f:
            return int(json.load(f)["epoch"])

    def on_train_begin(self, logs=None):
        epoch = self._checkpoint_epoch()
        if epoch is None or not os.path.isfile(self.path):
            return
        with np.load(self.path, allow_pickle=False) as saved:
            if int(saved["epoch"]) != epoch:
                return
            states = [saved[f"state_{i}"] for i in range(len(saved.files) - 1)]
        variables = seed_variables(self.model)
        if len(states) != len(variables):
            return
        for variable, state in zip(variables, states):
            variable.assign(state)

    def on_epoch_end(self, epoch, logs=None):
        states = {f"state_{i}": keras.ops.convert_to_numpy(v.value)
                  for i, v in enumerate(seed_variables(self.model))}
        os.makedirs(self.backup_dir, exist_ok=True)
        partial = self.path + ".partial.npz"
        # `epoch + 1`: BackupAndRestore's count of completed epochs.
        np.savez(partial, epoch=np.int64(epoch + 1), **states)
        os.replace(partial, self.path)
