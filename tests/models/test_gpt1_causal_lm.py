import keras
import numpy as np
import pytest
from conftest import TINY_CONFIG
from conftest import random_ids

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1InputError


@pytest.fixture
def lm(tiny_backbone):
    return GPT1CausalLM(tiny_backbone)


def _greedy_by_full_recomputation(lm, prompt, n):
    seq = np.asarray(prompt, "int32")[None]
    for _ in range(n):
        nxt = np.asarray(lm(seq))[:, -1].argmax(-1).astype("int32")
        seq = np.concatenate([seq, nxt[:, None]], 1)
    return seq[0]


def test_logits_shape_and_dtype(lm):
    logits = lm(random_ids(3, 11))
    assert logits.shape == (3, 11, TINY_CONFIG["vocabulary_size"])
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_lm_head_is_tied_to_token_embedding(lm):
    # One embedding matrix, used both ways: no separate output weights.
    assert len([v for v in lm.weights if v.shape == (300, 16)]) == 1
    hidden = np.asarray(lm.backbone(random_ids(1, 4)))
    emb = np.asarray(lm.backbone.token_embedding.embeddings)
    np.testing.assert_allclose(np.asarray(lm(random_ids(1, 4))), hidden @ emb.T, atol=1e-5)


def test_cached_logits_equal_full_recomputation(lm):
    ids = random_ids(2, 10)
    full = np.asarray(lm(ids))
    cache = lm.initial_cache(2, 10)
    logits, _, cache = lm.call_with_cache(ids[:, :4], cache, 0)  # prefill
    np.testing.assert_allclose(np.asarray(logits), full[:, :4], atol=1e-5)
    for t in range(4, 10):
        logits, _, cache = lm.call_with_cache(ids[:, t : t + 1], cache, t)
        np.testing.assert_allclose(np.asarray(logits)[:, 0], full[:, t], atol=1e-5)


def test_greedy_generation_equals_full_recomputation(lm):
    prompts = [random_ids(1, 5, seed=1)[0], random_ids(1, 3, seed=2)[0]]
    out = lm.generate(prompts, max_new_tokens=8)
    for prompt, got in zip(prompts, out):
        np.testing.assert_array_equal(got, _greedy_by_full_recomputation(lm, prompt, 8))


def test_generation_without_xla_matches_xla(lm):
    prompt = [random_ids(1, 4, seed=3)[0]]
    with_xla = lm.generate(prompt, max_new_tokens=6)[0]
    lm.jit_compile_generate = False
    lm._generate_functions.clear()
    np.testing.assert_array_equal(lm.generate(prompt, max_new_tokens=6)[0], with_xla)


def test_top_k_sampling_is_reproducible_with_a_seed(lm):
    prompt = [random_ids(1, 4, seed=4)[0]]
    a = lm.generate(prompt, max_new_tokens=10, sampler="top_k", top_k=50, seed=7)[0]
    lm._generate_functions.clear()
    b = lm.generate(prompt, max_new_tokens=10, sampler="top_k", top_k=50, seed=7)[0]
    np.testing.assert_array_equal(a, b)
    assert len(a) == 14


def test_generation_stops_at_context_length(lm):
    out = lm.generate([random_ids(1, 20)[0]], max_new_tokens=50)[0]
    assert len(out) == TINY_CONFIG["max_sequence_length"]


@pytest.mark.parametrize(
    "prompts,kwargs,message",
    [
        ([np.zeros(24, "int32")], {}, "leaves no room in the context of 24"),
        ([np.array([1, 999])], {}, "token id 999 is out of range"),
        ([np.array([], "int32")], {}, "prompt is empty"),
        ([np.array([1, 2])], {"sampler": "nucleus"}, "unknown sampler 'nucleus'"),
        ([np.array([1, 2])], {"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
        ("text", {}, "text prompts need a model with a tokenizer"),
    ],
)
def test_generate_rejects_bad_input(lm, prompts, kwargs, message):
    with pytest.raises(GPT1InputError, match=message):
        lm.generate(prompts, **kwargs)


def test_text_generation_with_tokenizer_stops_at_end_token(tokenizer):
    keras.utils.set_random_seed(0)
    backbone = GPT1Backbone(**{**TINY_CONFIG, "vocabulary_size": tokenizer.vocabulary_size()})
    lm = GPT1CausalLM(backbone, tokenizer=tokenizer)
    text = lm.generate("The cat", max_new_tokens=5)
    assert text.startswith("The cat") and len(text) > len("The cat")
    # Force the end token: the last LayerNorm outputs a constant vector b
    # (gain 0, offset b) and the end token's embedding row is 100 * b.
    last_ln = backbone.transformer_layers[-1].ln_2
    b = np.linspace(-1, 1, 16).astype("float32")
    last_ln.gamma.assign(np.zeros(16, "float32"))
    last_ln.beta.assign(b)
    emb = np.asarray(backbone.token_embedding.embeddings).copy()
    emb[tokenizer.end_token_id] = 100 * b
    backbone.token_embedding.embeddings.assign(emb)
    lm._generate_functions.clear()
    assert lm.generate("The cat", max_new_tokens=5) == "The cat"
    assert lm.generate("The cat", max_new_tokens=5, stop_at_end=False).endswith("<|endoftext|>" * 5)


def test_causal_lm_with_tokenizer_round_trips_through_keras_file(tokenizer, tmp_path):
    backbone = GPT1Backbone(**{**TINY_CONFIG, "vocabulary_size": tokenizer.vocabulary_size()})
    lm = GPT1CausalLM(backbone, tokenizer=tokenizer)
    ids = random_ids(2, 8, tokenizer.vocabulary_size())
    path = str(tmp_path / "lm.keras")
    lm.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode stays on
    np.testing.assert_array_equal(np.asarray(loaded(ids)), np.asarray(lm(ids)))
    assert loaded.tokenizer.vocabulary == tokenizer.vocabulary
    assert loaded.generate("The dog", max_new_tokens=4) == lm.generate("The dog", max_new_tokens=4)


def test_compile_defaults_train_next_token_loss_and_perplexity(lm):
    lm.compile()
    ids = random_ids(4, 9)
    logs = lm.evaluate(ids[:, :-1], ids[:, 1:], return_dict=True, verbose=0)
    assert set(logs) == {"loss", "perplexity"}
    np.testing.assert_allclose(logs["perplexity"], np.exp(logs["loss"]), rtol=1e-4)


def test_fused_attention_trains_under_xla_on_padded_batches_of_varying_size():
    """What `fit` with `jit_compile=True` meets on TensorFlow: fused attention
    (attention dropout 0), padding, and a last batch smaller than the rest.
    XLA compiles it, and the losses equal the same fit without XLA."""
    import tensorflow as tf

    ids = random_ids(10, 9)
    mask = np.ones_like(ids)
    mask[:, 6:] = 0
    data = tf.data.Dataset.from_tensor_slices(
        ({"token_ids": ids[:, :-1], "padding_mask": mask[:, :-1]}, ids[:, 1:], mask[:, 1:])
    ).batch(4)  # batches of 4, 4 and 2
    losses = {}
    for jit_compile in (False, True):
        keras.utils.set_random_seed(0)
        lm = GPT1CausalLM(GPT1Backbone(**{**TINY_CONFIG, "dropout": 0.0}, attention_dropout=0.0))
        lm.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit_compile,
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        losses[jit_compile] = lm.fit(data, epochs=2, verbose=0).history["loss"]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)


def test_a_causal_lm_saved_before_the_keras_hub_classes_loads_and_generates_as_then():
    """`causal_lm_before_keras_hub.keras`: a tiny random GPT1CausalLM with a
    trained byte-level BPE, written by keras-gpt1 at commit 47d1824 (its
    config holds a `tokenizer`, not a `preprocessor`), with its logits for
    [5, 17, 33, 2] and the greedy text it generated then."""
    import os

    from keras_gpt1.tokenizers import GPT1Tokenizer

    data = os.path.join(os.path.dirname(__file__), "data")
    lm = keras.saving.load_model(os.path.join(data, "causal_lm_before_keras_hub.keras"))
    assert isinstance(lm, GPT1CausalLM) and isinstance(lm.tokenizer, GPT1Tokenizer)
    logits = np.load(os.path.join(data, "causal_lm_before_keras_hub_logits.npy"),
                     allow_pickle=False)
    # Recorded on another CPU: float32 kernels round differently from one
    # machine to the next (up to 1.2e-7 seen), so within 1e-5, not bit for bit.
    np.testing.assert_allclose(np.asarray(lm(np.array([[5, 17, 33, 2]], "int32"))),
                               logits, rtol=0, atol=1e-5)
    assert lm.generate("The cat", max_new_tokens=8) == "The cat" + " cat" * 8
