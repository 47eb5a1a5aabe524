import json
import os
import re

import keras
import numpy as np
import pytest

from keras_gpt1 import GPT1InputError
from keras_gpt1 import artifacts
from keras_gpt1.training.pretrain import PretrainConfig
from keras_gpt1.training.pretrain import pretrain


def _config(corpus_file, output, **overrides):
    settings = dict(
        corpus=[corpus_file], output=str(output), preset="tiny", max_steps=6,
        seq_len=32, batch_size=4, vocab_size=300, checkpoint_every=2,
        learning_rate=1e-3, warmup_steps=1, verbose=0,
    )
    settings.update(overrides)
    return PretrainConfig(**settings)


class _Crash(keras.callbacks.Callback):
    """Simulates a kill: raises once the optimizer has made `at` updates."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) >= self.at:
            raise RuntimeError("killed")


def test_pretraining_lowers_validation_loss_and_writes_a_loadable_model(corpus_file, tmp_path):
    out = tmp_path / "model"
    summary = pretrain(_config(corpus_file, out, max_steps=30, checkpoint_every=10))
    assert summary["steps"] == 30 and summary["resumed_from_step"] == 0
    assert summary["val_loss"] < summary["initial_val_loss"] - 0.5
    np.testing.assert_allclose(summary["val_perplexity"], np.exp(summary["val_loss"]), rtol=1e-4)
    assert not os.path.exists(str(out) + ".partial")
    assert sorted(os.listdir(out)) == [
        "data", "history.csv", "logs", "merges.txt", "model.keras", "summary.json",
        "vocabulary.json",
    ]
    model = keras.saving.load_model(out / "model.keras")
    assert model.tokenizer.vocabulary_size() == summary["vocabulary_size"]
    assert model(np.zeros((1, 5), "int32")).shape == (1, 5, summary["vocabulary_size"])
    with open(out / "history.csv") as f:
        assert len(f.read().strip().splitlines()) == 1 + 3  # header + 3 checkpoints
    with open(out / "summary.json") as f:
        assert json.load(f) == summary
    # The same loss in lm-evaluation-harness's terms: bits per byte and word
    # perplexity of the held-out windows' target text.
    from keras_gpt1.data.pretraining_batches import validation_windows

    targets = validation_windows(str(out / "data"), 32)[:, 1:]
    pieces = [model.tokenizer.detokenize([row])[0] for row in targets]
    text = "".join(p.decode("utf-8", "ignore") if isinstance(p, bytes) else p
                   for p in pieces)
    nll = summary["val_loss"] * targets.size
    np.testing.assert_allclose(summary["val_bits_per_byte"],
                               nll / len(text.encode("utf-8")) / np.log(2), rtol=1e-6)
    np.testing.assert_allclose(summary["val_word_perplexity"],
                               np.exp(nll / len(re.split(r"\s+", text))), rtol=1e-5)


def test_rerun_after_a_crash_resumes_from_the_last_checkpoint(corpus_file, tmp_path):
    out = tmp_path / "model"
    with pytest.raises(RuntimeError, match="killed"):
        pretrain(_config(corpus_file, out, jit_compile=False), callbacks=[_Crash(at=3)])
    assert not out.exists() and (tmp_path / "model.partial").exists()
    summary = pretrain(_config(corpus_file, out, jit_compile=False))
    assert summary["resumed_from_step"] == 2  # checkpoint after step 2; step 3 lost
    assert summary["steps"] == 6
    assert artifacts.load_model(str(out)) is not None


def test_resuming_with_other_settings_is_refused(corpus_file, tmp_path):
    out = tmp_path / "model"
    partial = tmp_path / "model.partial"
    partial.mkdir()
    with open(partial / "run_config.json", "w") as f:
        json.dump(_config(corpus_file, out).resolved().run_identity(), f)
    with pytest.raises(GPT1InputError, match=r"interrupted run with other settings \(batch_size\)"):
        pretrain(_config(corpus_file, out, batch_size=8))


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"seq_len": 129}, "longer than the context of preset 'tiny' \\(128\\)"),
        ({"max_steps": 0}, "max_steps must be >= 1"),
        ({"batch_size": -1}, "batch_size must be >= 1"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"corpus": ["/no/such/file.txt"]}, "corpus file not found"),
        ({"strategy": "horovod"}, "unknown strategy 'horovod'; choose one of auto, default"),
        ({"precision": "int4"}, "unknown precision 'int4'; choose one of auto, float32"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(corpus_file, tmp_path, overrides, message):
    with pytest.raises(GPT1InputError, match=message):
        pretrain(_config(corpus_file, tmp_path / "model", **overrides))
    assert os.listdir(tmp_path) == []


def test_existing_output_is_not_overwritten(corpus_file, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(GPT1InputError, match="output already exists"):
        pretrain(_config(corpus_file, out))
    assert os.listdir(out) == ["keep.txt"]


class _PoisonWeights(keras.callbacks.Callback):
    """Sets one weight to NaN before update `at`, as a diverging run would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.at - 1:
            kernel = self.model.backbone.transformer_layers[0].c_fc.kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(corpus_file, tmp_path):
    from keras_gpt1.errors import GPT1TrainingError

    out = tmp_path / "model"
    config = _config(corpus_file, out, max_steps=8, jit_compile=False)
    with pytest.raises(GPT1TrainingError, match=r"loss became nan at step 5; the last good checkpoint \(step 4\) is kept"):
        pretrain(config, callbacks=[_PoisonWeights(at=5)])
    assert not out.exists()
    from keras_gpt1.training.checkpoints import completed_epochs

    kept = completed_epochs(tmp_path / "model.partial" / "checkpoint")
    assert kept[-1] == 2  # 2 intervals of 2 steps; the poisoned one never saved
    summary = pretrain(config)  # resumes from the good checkpoint
    assert summary["resumed_from_step"] == 4 and np.isfinite(summary["val_loss"])
