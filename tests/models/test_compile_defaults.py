"""`compile()` with no arguments gives the paper's recipe (§4.1): GPT1AdamW
with decay on weight matrices only and global clipping, warmup then decay
to 0 at the last step of the next `fit`; the task model at the width
rule's rate. A model saved after training and loaded goes on training
with its optimizer state."""

import warnings

import keras
import numpy as np
from conftest import TINY_CONFIG
from conftest import random_ids

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1TaskModel
from keras_gpt1.hyperparameters import finetune_learning_rate
from keras_gpt1.optimizers import GPT1AdamW


def _rate(optimizer, step):
    return float(optimizer.learning_rate_schedule(step))


def _decayed_paths(model):
    """Which variables weight decay moves: a fresh optimizer's step with
    zero gradients at the peak rate; the variables that changed decayed."""
    optimizer = model.optimizer
    variables = model.trainable_variables
    optimizer.build(variables)
    optimizer.iterations.assign(10**6 // 2)  # past any warmup
    schedule = optimizer.learning_rate_schedule
    schedule.total_steps = 10**6
    for v in variables:
        v.assign(np.ones(v.shape, "float32"))
    optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in variables])
    return {v.path for v in variables if np.asarray(v).min() < 1.0}


def _lm():
    keras.utils.set_random_seed(0)
    return GPT1CausalLM(GPT1Backbone(**TINY_CONFIG))


def test_causal_lm_compile_defaults_are_the_papers_pretraining_recipe():
    lm = _lm()
    lm.compile()
    optimizer = lm.optimizer
    assert isinstance(optimizer, GPT1AdamW)
    assert optimizer.weight_decay == 0.01 and optimizer.global_clipnorm == 1.0
    assert _rate(optimizer, 0) == 0.0
    np.testing.assert_allclose(_rate(optimizer, 1000), 1.25e-4, rtol=1e-6)
    np.testing.assert_allclose(_rate(optimizer, 2000), 2.5e-4, rtol=1e-6)
    np.testing.assert_allclose(_rate(optimizer, 10**6), 2.5e-4, rtol=1e-6)  # no length yet
    decayed = _decayed_paths(lm)
    assert any(p.endswith("c_attn/kernel") for p in decayed)
    assert any(p.endswith("token_embedding/embeddings") for p in decayed)
    assert not any(p.endswith(("bias", "gamma", "beta")) for p in decayed)


def test_fit_gives_the_default_schedule_its_length():
    lm = _lm()
    lm.compile()
    data = random_ids(16, 9)
    lm.fit(data[:, :-1], data[:, 1:], batch_size=4, epochs=3, verbose=0)
    schedule = lm.optimizer.learning_rate_schedule
    assert schedule.total_steps == 12  # 3 epochs x 4 steps
    assert schedule.resolved_warmup_steps() == 1  # a tenth of the run, rounded
    np.testing.assert_allclose(_rate(lm.optimizer, 1), 2.5e-4, rtol=1e-6)
    assert _rate(lm.optimizer, 12) < 1e-12
    lm.fit(data[:, :-1], data[:, 1:], batch_size=4, epochs=1, verbose=0)
    assert schedule.total_steps == 12  # a length once given stays


def test_task_model_compile_defaults_use_the_width_rule():
    keras.utils.set_random_seed(0)
    backbone = GPT1Backbone(**TINY_CONFIG)
    model = GPT1TaskModel(backbone, "classification", label_names=["a", "b"])
    model.compile()
    optimizer = model.optimizer
    assert isinstance(optimizer, GPT1AdamW)
    peak = finetune_learning_rate(TINY_CONFIG["hidden_dim"])
    assert peak == 1e-3  # 16 wide: the rule's cap
    np.testing.assert_allclose(_rate(optimizer, 0), peak, rtol=1e-6)  # no warmup yet
    ids = random_ids(1000, 6)
    x = {"token_ids": ids[:, None, :], "padding_mask": np.ones_like(ids)[:, None, :]}
    y = np.arange(1000) % 2
    model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    schedule = optimizer.learning_rate_schedule
    assert schedule.total_steps == 100 and schedule.resolved_warmup_steps() == 0
    model.compile()
    model.fit(x, y, batch_size=1, epochs=1, steps_per_epoch=1000, verbose=0)
    schedule = model.optimizer.learning_rate_schedule
    assert schedule.resolved_warmup_steps() == 2  # 0.2% of 1000
    np.testing.assert_allclose(_rate(model.optimizer, 1), peak / 2, rtol=1e-6)
    np.testing.assert_allclose(_rate(model.optimizer, 501), peak / 2, rtol=1e-2)
    model.compile()  # a fresh optimizer: no moments to move anything
    decayed = _decayed_paths(model)
    assert any(p.endswith("clf/kernel") for p in decayed)
    assert not any(p.endswith("bias") for p in decayed)


def test_a_trained_model_saved_and_loaded_goes_on_with_its_optimizer_state(tmp_path):
    lm = _lm()
    lm.compile(jit_compile=False)
    data = random_ids(8, 9, seed=1)
    lm.fit(data[:, :-1], data[:, 1:], batch_size=4, epochs=2, verbose=0)
    lm.save(tmp_path / "lm.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras's "Skipping variable loading ..."
        loaded = keras.saving.load_model(tmp_path / "lm.keras")
    batch = random_ids(4, 9, seed=2)
    for model in (lm, loaded):
        keras.Model.train_on_batch(model, batch[:, :-1], batch[:, 1:])
    assert int(loaded.optimizer.iterations.numpy()) == 5
    for a, b in zip(lm.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
