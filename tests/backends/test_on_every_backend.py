"""The model's core behaviour, on whichever Keras backend runs the tests.

The main suite runs this file on TensorFlow; `test_backends.py` runs it
again under `KERAS_BACKEND=jax` and `KERAS_BACKEND=torch` (each in its own
process, since the backend is fixed at import)."""

import os

import keras
import numpy as np
import pytest

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM

CONFIG = dict(vocabulary_size=97, num_layers=2, num_heads=2, hidden_dim=16,
              intermediate_dim=64, max_sequence_length=20, dropout=0.0)


def ids(batch, length, seed=0):
    return np.random.default_rng(seed).integers(
        0, CONFIG["vocabulary_size"], (batch, length)).astype("int32")


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture
def lm():
    keras.utils.set_random_seed(0)
    return GPT1CausalLM(GPT1Backbone(**CONFIG))


def test_runs_on_the_backend_it_was_asked_for():
    assert keras.config.backend() == os.environ.get("KERAS_BACKEND", "tensorflow")


def test_output_at_t_ignores_inputs_after_t(lm):
    a, changed = ids(2, 12), ids(2, 12, seed=1)
    changed[:, :7] = a[:, :7]
    out_a, out_b = numpy(lm(a)), numpy(lm(changed))
    np.testing.assert_allclose(out_a[:, :7], out_b[:, :7], atol=1e-5)
    assert np.abs(out_a[:, 7:] - out_b[:, 7:]).max() > 1e-4


def test_dropout_is_active_in_training_and_off_in_inference():
    keras.utils.set_random_seed(0)
    lm = GPT1CausalLM(GPT1Backbone(**{**CONFIG, "dropout": 0.5}))
    tokens = ids(2, 9)
    assert np.abs(numpy(lm(tokens, training=True)) - numpy(lm(tokens, training=True))).max() > 1e-3
    np.testing.assert_array_equal(numpy(lm(tokens)), numpy(lm(tokens)))
    hidden = numpy(lm.backbone({"token_ids": tokens, "padding_mask": np.ones_like(tokens)},
                               training=True))
    assert np.abs(hidden - numpy(lm.backbone(tokens))).max() > 1e-3


def test_cached_logits_equal_full_recomputation(lm):
    tokens = ids(2, 10)
    full = numpy(lm(tokens))
    cache = lm.initial_cache(2, 10)
    logits, _, cache = lm.call_with_cache(tokens[:, :4], cache, 0)
    np.testing.assert_allclose(numpy(logits), full[:, :4], atol=1e-5)
    for t in range(4, 10):
        logits, _, cache = lm.call_with_cache(tokens[:, t:t + 1], cache, t)
        np.testing.assert_allclose(numpy(logits)[:, 0], full[:, t], atol=1e-5)


def test_left_padding_gives_the_unpadded_hidden_states(lm):
    tokens = ids(1, 6)
    padded = np.concatenate([np.zeros((1, 3), "int32"), tokens], axis=1)
    mask = np.array([[0, 0, 0, 1, 1, 1, 1, 1, 1]], "int32")
    alone = numpy(lm.backbone(tokens))
    got = numpy(lm.backbone({"token_ids": padded, "padding_mask": mask}))
    np.testing.assert_allclose(got[:, 3:], alone, atol=1e-5)


def test_greedy_generate_equals_argmax_recomputation(lm):
    prompts = [ids(1, 5, seed=1)[0], ids(1, 3, seed=2)[0]]
    out = lm.generate(prompts, max_new_tokens=6)
    for prompt, got in zip(prompts, out):
        seq = prompt[None]
        for _ in range(6):
            next_id = numpy(lm(seq))[:, -1].argmax(-1).astype("int32")
            seq = np.concatenate([seq, next_id[:, None]], 1)
        np.testing.assert_array_equal(got, seq[0])


def test_left_padded_rows_read_as_the_unpadded_sequences(lm):
    """The padding mask keeps padded keys out of attention, and positions
    count real tokens only: each real token's state equals the unpadded
    sequence's."""
    prompts = [ids(1, 6, seed=3)[0], ids(1, 2, seed=4)[0]]
    token_ids = np.full((2, 6), 7, "int32")  # a real id as padding: it must not count
    mask = np.zeros((2, 6), "int32")
    for i, p in enumerate(prompts):
        token_ids[i, 6 - len(p):] = p
        mask[i, 6 - len(p):] = 1
    hidden = numpy(lm.backbone({"token_ids": token_ids, "padding_mask": mask}))
    for i, p in enumerate(prompts):
        alone = numpy(lm.backbone(p[None]))[0]
        np.testing.assert_allclose(hidden[i, 6 - len(p):], alone, atol=1e-5)


def test_a_left_padded_batch_generates_what_each_prompt_generates_alone(lm):
    prompts = [ids(1, 6, seed=3)[0], ids(1, 2, seed=4)[0]]
    length = 12
    token_ids = np.zeros((2, length), "int32")
    mask = np.zeros((2, length), "int32")
    for i, p in enumerate(prompts):  # left padding
        token_ids[i, 6 - len(p):6] = p
        mask[i, 6 - len(p):6] = 1
    out = lm.generate({"token_ids": token_ids, "padding_mask": mask},
                      stop_token_ids=None)
    for i, p in enumerate(prompts):
        alone = lm.generate([p], max_new_tokens=length - len(p), stop_at_end=False)[0]
        np.testing.assert_array_equal(out["token_ids"][i], alone)


def test_round_trips_through_a_keras_file(lm, tmp_path):
    path = str(tmp_path / "lm.keras")
    lm.save(path)
    loaded = keras.saving.load_model(path)
    tokens = ids(2, 7)
    np.testing.assert_array_equal(numpy(loaded(tokens)), numpy(lm(tokens)))


def test_fit_lowers_the_loss(lm):
    tokens = np.tile(np.arange(12, dtype="int32") % 5, (8, 1))  # a learnable pattern
    lm.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = lm.evaluate(tokens[:, :-1], tokens[:, 1:], verbose=0, return_dict=True)
    lm.fit(tokens[:, :-1], tokens[:, 1:], epochs=5, batch_size=4, verbose=0)
    after = lm.evaluate(tokens[:, :-1], tokens[:, 1:], verbose=0, return_dict=True)
    assert after["loss"] < 0.7 * before["loss"]


def test_int8_quantized_model_saves_and_loads_with_identical_outputs(lm, tmp_path):
    lm.quantize("int8")
    assert lm.backbone.token_embedding.quantization_mode == "int8"
    path = str(tmp_path / "int8.keras")
    lm.save(path)
    loaded = keras.saving.load_model(path)
    tokens = ids(2, 7)
    np.testing.assert_array_equal(numpy(loaded(tokens)), numpy(lm(tokens)))


@pytest.mark.parametrize("bad", [-1, CONFIG["vocabulary_size"]])
def test_out_of_range_ids_raise_in_an_eager_call(lm, bad):
    """NumPy ids and this backend's own eager tensors alike."""
    from keras_gpt1 import GPT1InputError

    tokens = ids(1, 5)
    tokens[0, 3] = bad
    message = rf"token id {bad} is out of range \[0, {CONFIG['vocabulary_size']}\)"
    with pytest.raises(GPT1InputError, match=message):
        lm(tokens)
    with pytest.raises(GPT1InputError, match=message):
        lm.backbone(keras.ops.convert_to_tensor(tokens))


def test_text_in_and_out_with_the_backend_s_tokenizer():
    """`generate` on text with the project's tokenizer; without TensorFlow
    (as test_backends.py runs this file) it runs on Hugging Face
    `tokenizers`, with the ids of the in-graph tokenizer."""
    import sys
    import tempfile

    from conftest import write_corpus

    from keras_gpt1.tokenizers import train_bpe

    with tempfile.TemporaryDirectory() as directory:
        tokenizer = train_bpe([write_corpus(os.path.join(directory, "c.txt"))], 400)
    keras.utils.set_random_seed(0)
    lm = GPT1CausalLM(GPT1Backbone(**{**CONFIG, "vocabulary_size": 400}), tokenizer=tokenizer)
    text = lm.generate("The cat sat", max_new_tokens=4)
    assert text.startswith("The cat sat")
    assert tokenizer.detokenize([tokenizer(["The cat sat."])[0]])[0] in (b"The cat sat.",
                                                                          "The cat sat.")
    if os.environ.get("KERAS_GPT1_TEST_WITHOUT_TENSORFLOW"):  # test_backends.py
        assert "tensorflow" not in sys.modules


@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "left_padded"])
def test_fused_attention_takes_the_step_by_step_path_s_steps(padded):
    """`ops.dot_product_attention` (flash / cuDNN where they exist) against
    the step-by-step attention with the same weights: the same logits at
    real positions (1e-5) and the same training step under plain SGD, i.e.
    the same gradients (1e-5 of the largest move), with no attention
    dropout (where the fused path trains)."""
    def model(fused):
        keras.utils.set_random_seed(0)
        lm = GPT1CausalLM(GPT1Backbone(**CONFIG))
        for block in lm.backbone.transformer_layers:
            block.attn.fused = fused
        lm.compile(optimizer=keras.optimizers.SGD(1.0),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return lm

    tokens = ids(2, 9, seed=5)
    mask = np.ones_like(tokens)
    if padded:
        mask[1, :3] = 0  # left padding in one row
    x = {"token_ids": tokens[:, :-1], "padding_mask": mask[:, :-1]}
    # Targets read from real positions only (a padding position's output
    # is never read, and differs between the two paths by design).
    y, weight = tokens[:, 1:], mask[:, 1:] * mask[:, :-1]
    fused, plain = model(True), model(False)
    real = mask[:, :-1].astype(bool)
    np.testing.assert_allclose(numpy(fused(x))[real], numpy(plain(x))[real], atol=1e-5)
    before = [numpy(w) for w in plain.weights]
    for lm in (fused, plain):
        keras.Model.train_on_batch(lm, x, y, sample_weight=weight)
    moved = max(float(np.abs(numpy(w) - b).max()) for w, b in zip(plain.weights, before))
    assert moved > 1e-3
    for a, b in zip(fused.weights, plain.weights, strict=True):
        np.testing.assert_allclose(numpy(a), numpy(b), atol=1e-5 * moved, rtol=0)
