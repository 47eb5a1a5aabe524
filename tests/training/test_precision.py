"""--precision: mixed bfloat16 / float16 training tracks float32, keeps
logits and losses in float32, scales the float16 loss, and publishes a
float32 model."""

import keras
import numpy as np
import pytest

from keras_gpt1 import GPT1InputError
from keras_gpt1 import artifacts
from keras_gpt1.training.precision import with_loss_scaling
from keras_gpt1.training.pretrain import PretrainConfig
from keras_gpt1.training.pretrain import pretrain


def _pretrain(corpus_file, output, precision):
    return pretrain(PretrainConfig(
        corpus=[corpus_file], output=str(output), preset="tiny", max_steps=8,
        seq_len=32, batch_size=4, vocab_size=300, checkpoint_every=8,
        learning_rate=1e-3, warmup_steps=1, dropout=0.0, jit_compile=False,
        precision=precision, verbose=0,
    ))


@pytest.fixture(scope="module")
def float32_run(corpus_file, tmp_path_factory):
    return _pretrain(corpus_file, tmp_path_factory.mktemp("f32") / "model", "float32")


@pytest.mark.parametrize("precision, tolerance", [("mixed_bfloat16", 0.05),
                                                  ("mixed_float16", 0.05)])
def test_mixed_precision_tracks_float32_and_publishes_float32(
        corpus_file, tmp_path, float32_run, precision, tolerance):
    summary = _pretrain(corpus_file, tmp_path / "model", precision)
    assert summary["precision"] == precision
    # Same data, same initial weights: the validation loss after 8 steps
    # differs only by rounding (bfloat16 keeps 8 bits of mantissa).
    assert summary["initial_val_loss"] == pytest.approx(
        float32_run["initial_val_loss"], abs=tolerance)
    assert summary["val_loss"] == pytest.approx(float32_run["val_loss"], abs=tolerance)
    assert summary["val_loss"] < summary["initial_val_loss"] - 0.3

    model = artifacts.load_model(str(tmp_path / "model"))
    policies = {layer.dtype_policy.name for layer in model.backbone._flatten_layers()}
    assert policies == {"float32"}
    logits = model(np.array([[5, 6, 7]], dtype="int32"))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_float16_loss_is_scaled_and_others_are_not():
    optimizer = keras.optimizers.Adam()
    assert isinstance(with_loss_scaling(optimizer, "mixed_float16"),
                      keras.optimizers.LossScaleOptimizer)
    assert with_loss_scaling(optimizer, "mixed_bfloat16") is optimizer
    assert with_loss_scaling(optimizer, "float32") is optimizer


def test_unknown_precision_is_refused(corpus_file, tmp_path):
    with pytest.raises(GPT1InputError, match="unknown precision 'float8'; choose one of auto, "
                       "float32, mixed_bfloat16, mixed_float16"):
        _pretrain(corpus_file, tmp_path / "model", "float8")
    assert not (tmp_path / "model.partial").exists()


@pytest.mark.parametrize(
    "precision, jit_compile, on_cpu, native, expected",
    [
        ("auto", None, True, True, ("mixed_bfloat16", False)),
        ("auto", None, True, False, ("float32", True)),
        ("auto", None, False, True, ("float32", True)),  # a GPU: float32 + XLA
        ("auto", True, True, True, ("mixed_bfloat16", True)),  # --xla is obeyed
        ("float32", None, True, True, ("float32", True)),
        ("mixed_bfloat16", None, False, False, ("mixed_bfloat16", True)),
        ("mixed_float16", False, True, True, ("mixed_float16", False)),
    ],
)
def test_auto_picks_bfloat16_without_xla_only_on_a_bfloat16_cpu(
        monkeypatch, precision, jit_compile, on_cpu, native, expected):
    from keras_gpt1.training import precision as module

    monkeypatch.setattr(module, "cpu_multiplies_bfloat16", lambda: native)
    assert module.resolve(precision, jit_compile, on_cpu) == expected
