"""Every private Keras / keras-hub name the project relies on exists in the
installed versions (`keras_gpt1/keras_internals.py`): a release that
renames one fails here, by name, instead of a fix silently no longer
applying."""

import pytest

from keras_gpt1.keras_internals import INTERNALS
from keras_gpt1.keras_internals import MissingInternalError
from keras_gpt1.keras_internals import internal


@pytest.mark.parametrize("key", sorted(INTERNALS))
def test_the_private_name_exists(key):
    assert internal(key) is not None


def test_a_missing_name_fails_loudly_naming_itself(monkeypatch):
    monkeypatch.setitem(INTERNALS, "renamed", ("keras.optimizers", "Optimizer._clip_grads"))
    with pytest.raises(MissingInternalError,
                       match=r"relies on keras\.optimizers\.Optimizer\._clip_grads"):
        internal("renamed")


def test_keras_calls_the_hooks_gpt1_adamw_overrides(monkeypatch):
    """Keras's optimizer step calls `_clip_gradients` by that name (renamed
    in Keras, GPT1AdamW's cross-replica clipping would never run) and builds
    the Adam slots the fused update reads."""
    import keras

    from keras_gpt1.optimizers import GPT1AdamW

    calls = []
    clip = GPT1AdamW._clip_gradients
    monkeypatch.setattr(GPT1AdamW, "_clip_gradients",
                        lambda self, grads: calls.append(1) or clip(self, grads))
    optimizer = GPT1AdamW(learning_rate=1e-3, global_clipnorm=1.0)
    variable = keras.Variable([[1.0, 2.0]])
    optimizer.apply_gradients([(keras.ops.ones((1, 2)), variable)])
    assert calls == [1]
    assert all(hasattr(optimizer, name) for name in ("_momentums", "_velocities"))
