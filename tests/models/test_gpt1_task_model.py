import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_CONFIG
from conftest import assert_keras_round_trip

from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import GPT1InputError
from keras_gpt1 import GPT1TaskModel
from keras_gpt1.data import task_transforms as T

SPECIAL = T.SpecialTokenIds(start=2, delimiter=3, extract=4, pad=0)
MAX_LENGTH = TINY_CONFIG["max_sequence_length"]


def ragged(rows):
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)


def inputs_of(sequences, multiple=8):
    return {k: v.numpy() for k, v in
            T.pad_sequences(sequences, SPECIAL.pad, MAX_LENGTH, multiple).items()}


def random_rows(rng, n, low=5, high=12):
    return [rng.integers(10, TINY_CONFIG["vocabulary_size"], rng.integers(low, high)).tolist()
            for _ in range(n)]


def classification_inputs(rows):
    return inputs_of(T.classification_sequences(ragged(rows), SPECIAL, MAX_LENGTH))


def choice_inputs(context, answers):
    flat = [a for row in answers for a in row]
    answer_ids = tf.RaggedTensor.from_uniform_row_length(ragged(flat), len(answers[0]))
    sequences = T.multiple_choice_sequences(
        ragged(context), ragged([[]] * len(context)), answer_ids, SPECIAL, MAX_LENGTH)
    return inputs_of(sequences)


@pytest.mark.parametrize(
    "task, kwargs, expected",
    [
        ("classification", {"label_names": ["a", "b", "c"]}, (2, 3)),
        ("entailment", {"label_names": ["no", "yes"]}, (2, 2)),
        ("regression", {}, (2, 1)),
        ("similarity", {"regression": True}, (2, 1)),
    ],
)
def test_output_shape_of_each_head(tiny_backbone, task, kwargs, expected):
    model = GPT1TaskModel(tiny_backbone, task, **kwargs)
    rows = random_rows(np.random.default_rng(0), 2)
    x = (inputs_of(T.similarity_sequences(ragged(rows), ragged(rows), SPECIAL, MAX_LENGTH))
         if task == "similarity" else classification_inputs(rows))
    out = model(x)
    assert tuple(out.shape) == expected
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


@pytest.mark.parametrize("num_choices", [2, 5])
def test_multiple_choice_gives_one_score_per_answer_for_any_number(tiny_backbone,
                                                                   num_choices):
    rng = np.random.default_rng(1)
    model = GPT1TaskModel(tiny_backbone, "multiple_choice")
    x = choice_inputs(random_rows(rng, 3), [random_rows(rng, num_choices, 1, 4)
                                            for _ in range(3)])
    assert tuple(model(x).shape) == (3, num_choices)


def test_similarity_output_is_the_same_whatever_the_order_of_the_texts(tiny_backbone):
    rng = np.random.default_rng(2)
    model = GPT1TaskModel(tiny_backbone, "similarity", label_names=["0", "1"])
    a, b = random_rows(rng, 3), random_rows(rng, 3)
    ab = model(inputs_of(T.similarity_sequences(ragged(a), ragged(b), SPECIAL, MAX_LENGTH)))
    ba = model(inputs_of(T.similarity_sequences(ragged(b), ragged(a), SPECIAL, MAX_LENGTH)))
    np.testing.assert_allclose(np.asarray(ab), np.asarray(ba), rtol=0, atol=1e-6)
    # ... and it really reads both orderings: one ordering alone differs.
    single = GPT1TaskModel(tiny_backbone, "entailment", label_names=["0", "1"])
    single.clf.set_weights(model.clf.get_weights())
    one = single(inputs_of(T.entailment_sequences(ragged(a), ragged(b), SPECIAL, MAX_LENGTH)))
    assert not np.allclose(np.asarray(one), np.asarray(ab), atol=1e-4)


def test_multiple_choice_scores_permute_with_the_answers(tiny_backbone):
    rng = np.random.default_rng(3)
    model = GPT1TaskModel(tiny_backbone, "multiple_choice")
    context = random_rows(rng, 2)
    answers = [random_rows(rng, 4, 1, 5) for _ in range(2)]
    order = [2, 0, 3, 1]
    scores = np.asarray(model(choice_inputs(context, answers)))
    permuted = np.asarray(model(choice_inputs(
        context, [[row[k] for k in order] for row in answers])))
    np.testing.assert_allclose(permuted, scores[:, order], rtol=0, atol=1e-6)


def test_extract_state_is_unchanged_by_extra_right_padding(tiny_backbone):
    model = GPT1TaskModel(tiny_backbone, "classification", label_names=["a", "b"])
    rows = random_rows(np.random.default_rng(4), 3)
    sequences = T.classification_sequences(ragged(rows), SPECIAL, MAX_LENGTH)
    short = model(inputs_of(sequences, multiple=1))
    long = model(inputs_of(sequences, multiple=MAX_LENGTH))
    np.testing.assert_allclose(np.asarray(short), np.asarray(long), rtol=0, atol=1e-6)


def _loss_setup(backbone, lm_loss_weight):
    model = GPT1TaskModel(backbone, "classification", label_names=["a", "b"],
                          lm_loss_weight=lm_loss_weight, dropout=0.0)
    model.compile(optimizer="adam")
    x = classification_inputs(random_rows(np.random.default_rng(5), 4))
    y = np.array([0, 1, 1, 0], "int32")
    y_pred = model(x, training=True)
    total = model.compute_loss(x, y, y_pred, training=True)
    task = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, y_pred)
    return model, x, float(total), float(task)


def test_lm_loss_weight_zero_gives_exactly_the_plain_task_loss(tiny_backbone):
    model, _, total, task = _loss_setup(tiny_backbone, 0.0)
    assert model.losses == []
    assert total == task


def test_total_loss_is_task_loss_plus_lambda_times_lm_loss_of_real_tokens(tiny_backbone):
    _, x, total, task = _loss_setup(tiny_backbone, 0.5)
    # L1 from the causal LM's own logits (same backbone, tied embedding).
    ids, mask = x["token_ids"][:, 0], x["padding_mask"][:, 0]
    logits = np.asarray(GPT1CausalLM(tiny_backbone)(ids), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = ids[:, 1:]
    nll = -np.take_along_axis(log_probs[:, :-1], targets[..., None], -1)[..., 0]
    lm = (nll * mask[:, 1:]).sum() / mask[:, 1:].sum()
    np.testing.assert_allclose(total, task + 0.5 * lm, rtol=1e-5)


def test_fit_learns_a_small_separable_task(tiny_backbone):
    rng = np.random.default_rng(6)
    rows, labels = [], []
    for i in range(64):
        label = i % 2
        marker = 10 if label else 20  # the class shows in the tokens
        row = rng.integers(30, 200, 6).tolist()
        row[rng.integers(0, 6)] = marker
        rows.append(row)
        labels.append(label)
    x = classification_inputs(rows)
    y = np.array(labels, "int32")
    keras.utils.set_random_seed(0)
    model = GPT1TaskModel(tiny_backbone, "classification", label_names=["0", "1"])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    accuracy = np.mean(np.argmax(model.predict(x, verbose=0), -1) == y)
    assert accuracy == 1.0


def test_keras_file_round_trip_keeps_outputs_label_names_and_tokenizer(
    tiny_backbone, tokenizer, tmp_path
):
    model = GPT1TaskModel(tiny_backbone, "entailment",
                          label_names=["contradiction", "entailment", "neutral"],
                          tokenizer=tokenizer, lm_loss_weight=0.25)
    x = classification_inputs(random_rows(np.random.default_rng(7), 2))
    loaded = assert_keras_round_trip(model, x, tmp_path, atol=1e-6)
    assert isinstance(loaded, GPT1TaskModel)
    assert loaded.label_names == ["contradiction", "entailment", "neutral"]
    assert (loaded.task, loaded.lm_loss_weight) == ("entailment", 0.25)
    assert loaded.tokenizer.extract_token_id == tokenizer.extract_token_id


def test_multiple_choice_round_trip(tiny_backbone, tmp_path):
    rng = np.random.default_rng(8)
    model = GPT1TaskModel(tiny_backbone, "multiple_choice")
    x = choice_inputs(random_rows(rng, 2), [random_rows(rng, 3, 1, 4) for _ in range(2)])
    loaded = assert_keras_round_trip(model, x, tmp_path, atol=1e-6)
    assert loaded.label_names is None and loaded.task == "multiple_choice"


def test_bad_task_settings_are_input_errors(tiny_backbone):
    with pytest.raises(GPT1InputError, match="unknown task 'poetry'"):
        GPT1TaskModel(tiny_backbone, "poetry")
    with pytest.raises(GPT1InputError, match="needs at least 2 classes"):
        GPT1TaskModel(tiny_backbone, "classification", label_names=["only"])
    with pytest.raises(GPT1InputError, match="lm_loss_weight must be >= 0"):
        GPT1TaskModel(tiny_backbone, "regression", lm_loss_weight=-1)
