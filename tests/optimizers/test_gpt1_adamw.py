import keras
import numpy as np

from keras_gpt1 import GPT1CausalLM
from keras_gpt1.optimizers import WarmupLinearDecay
from keras_gpt1.optimizers import decay_exempt_variables
from keras_gpt1.optimizers import make_optimizer
from keras_gpt1.optimizers import warmup_cosine_schedule


def _lr(schedule, step):
    return float(schedule(step))


def test_warmup_then_cosine_to_zero():
    s = warmup_cosine_schedule(2.5e-4, warmup_steps=10, total_steps=110)
    assert _lr(s, 0) == 0.0
    np.testing.assert_allclose(_lr(s, 5), 1.25e-4, rtol=1e-5)
    np.testing.assert_allclose(_lr(s, 10), 2.5e-4, rtol=1e-5)
    np.testing.assert_allclose(_lr(s, 60), 1.25e-4, rtol=1e-4)  # cosine midpoint
    assert _lr(s, 110) < 1e-12


def test_warmup_linear_decay_schedule():
    s = WarmupLinearDecay(6.25e-5, warmup_steps=4, total_steps=104)
    np.testing.assert_allclose([_lr(s, t) for t in (0, 2, 4, 54, 104)],
                               [0, 3.125e-5, 6.25e-5, 3.125e-5, 0], atol=1e-10)
    assert WarmupLinearDecay.from_config(s.get_config()).total_steps == 104


def test_biases_and_layernorm_are_exempt_from_weight_decay(tiny_backbone):
    lm = GPT1CausalLM(tiny_backbone)
    exempt = {v.path for v in decay_exempt_variables(lm)}
    assert exempt and all(p.endswith(("bias", "gamma", "beta")) for p in exempt)
    decayed = {v.path for v in lm.trainable_variables} - exempt
    assert any("c_attn/kernel" in p for p in decayed)
    assert any("token_embedding" in p for p in decayed)


def test_decoupled_decay_shrinks_kernels_but_not_biases(tiny_backbone):
    lm = GPT1CausalLM(tiny_backbone)
    opt = make_optimizer(0.1, weight_decay=0.5)
    opt.build(lm.trainable_variables)
    kernel = lm.backbone.transformer_layers[0].c_fc.kernel
    bias = lm.backbone.transformer_layers[0].c_fc.bias
    bias.assign(np.ones(bias.shape, "float32"))
    before_k, before_b = np.asarray(kernel), np.asarray(bias)
    opt.apply_gradients([(keras.ops.zeros_like(v), v) for v in lm.trainable_variables])
    np.testing.assert_allclose(np.asarray(kernel), before_k * (1 - 0.1 * 0.5), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(bias), before_b)
    assert opt.global_clipnorm == 1.0


def test_fused_adam_update_equals_keras_adam_within_float32_rounding(tiny_backbone):
    """The fused TensorFlow update (one ResourceApplyAdam per variable)
    against Keras's elementwise AdamW on the same weights and gradients,
    with decay, clipping and a warmup schedule, 4 steps. The kernel forms
    1 - beta in float32 where Keras rounds it from float64 (1 - 0.999 is
    1.3e-5 smaller), so weights agree to 1e-4 of how far they moved."""
    from keras_gpt1.optimizers import GPT1AdamW

    rng = np.random.default_rng(0)
    weights = tiny_backbone.get_weights()
    gradient_steps = [[rng.normal(size=w.shape).astype("float32") for w in weights]
                      for _ in range(4)]
    finals = []
    for fused in (True, False):
        variables = [keras.Variable(w) for w in weights]
        optimizer = GPT1AdamW(learning_rate=WarmupLinearDecay(1e-2, 2, 10),
                              weight_decay=0.01, global_clipnorm=1.0, fused=fused)
        optimizer.exclude_from_weight_decay(var_list=[v for v in variables
                                                      if len(v.shape) < 2])
        for gradients in gradient_steps:
            optimizer.apply_gradients(zip(gradients, variables))
        finals.append([np.asarray(v) for v in variables])
    for fused, plain, initial in zip(*finals, weights):
        moved = np.abs(plain - initial).max()
        assert moved > 1e-3  # every weight moved
        assert np.abs(fused - plain).max() <= 1e-4 * moved


def test_training_takes_the_fused_update_for_every_variable(tiny_backbone, monkeypatch):
    """On TensorFlow a training step updates every weight, the tied embedding
    included (its gradient is dense), with one fused op each."""
    import tensorflow as tf

    calls = []
    fused_op = tf.raw_ops.ResourceApplyAdam
    monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam",
                        lambda **kwargs: calls.append(1) or fused_op(**kwargs))
    lm = GPT1CausalLM(tiny_backbone)
    lm.compile(optimizer=make_optimizer(1e-3),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
               jit_compile=False)
    ids = np.random.default_rng(0).integers(0, 300, (2, 9)).astype("int32")
    keras.Model.train_on_batch(lm, ids[:, :-1], ids[:, 1:])
    assert calls and len(calls) % len(lm.trainable_variables) == 0  # per trace
