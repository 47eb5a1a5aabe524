"""A run interrupted and resumed ends with exactly the weights of a run
that was never interrupted: same data position, optimizer state and
dropout masks (the dropout random state is checkpointed too)."""

import keras
import numpy as np
import pytest

from keras_gpt1.training.pretrain import PretrainConfig
from keras_gpt1.training.pretrain import pretrain

DROPOUT = 0.1


class _Crash(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.at:
            raise RuntimeError("killed")


class _KeepWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


def _run(corpus_file, output, callbacks):
    keep = _KeepWeights()
    pretrain(PretrainConfig(
        corpus=[corpus_file], output=str(output), preset="tiny", max_steps=6,
        seq_len=32, batch_size=4, vocab_size=300, checkpoint_every=2,
        learning_rate=1e-3, warmup_steps=1, dropout=DROPOUT, precision="float32",
        jit_compile=False, verbose=0,
    ), callbacks=[*callbacks, keep])
    return keep.weights


def test_resumed_run_ends_with_the_uninterrupted_runs_weights(corpus_file, tmp_path):
    uninterrupted = _run(corpus_file, tmp_path / "straight", [])
    with pytest.raises(RuntimeError, match="killed"):
        _run(corpus_file, tmp_path / "resumed", [_Crash(at=5)])  # checkpoint at 4
    resumed = _run(corpus_file, tmp_path / "resumed", [])
    assert len(resumed) == len(uninterrupted)
    for a, b in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(a, b)
