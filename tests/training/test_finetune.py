import json
import os

import keras
import numpy as np
import pytest
from task_data import separable_sentences
from task_data import write_jsonl
from task_data import write_pretrained_model
from task_data import write_tsv

import keras_gpt1
from keras_gpt1 import GPT1InputError
from keras_gpt1 import artifacts
from keras_gpt1.training.finetune import FinetuneConfig
from keras_gpt1.training.finetune import finetune
from keras_gpt1.training.finetune import load_pretrained

FAST = dict(batch_size=16, learning_rate=3e-3, jit_compile=False, verbose=0)


@pytest.fixture(scope="module")
def pretrained(tokenizer, tmp_path_factory):
    return write_pretrained_model(tmp_path_factory.mktemp("pre") / "model", tokenizer)


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sentiment")
    return (write_tsv(directory / "train.tsv", separable_sentences(64, seed=0)),
            write_tsv(directory / "dev.tsv", separable_sentences(16, seed=1)))


def test_finetune_learns_a_separable_task_and_publishes_the_directory(
    pretrained, sentiment, tmp_path
):
    train, dev = sentiment
    output = str(tmp_path / "tuned")
    summary = finetune(FinetuneConfig(model=pretrained, task="classification",
                                      train=train, validation=dev, output=output,
                                      epochs=6, **FAST))
    assert summary["val_accuracy"] >= 0.9
    assert summary["label_names"] == ["neg", "pos"]
    assert summary["steps"] == 6 * 4 and summary["train_examples"] == 64
    assert {"val_f1", "val_matthews_correlation", "train_loss"} <= set(summary)
    assert sorted(os.listdir(output)) == ["merges.txt", "model.keras", "summary.json",
                                          "vocabulary.json"]
    assert os.listdir(tmp_path) == ["tuned"]  # no temporary directory left
    with open(os.path.join(output, "summary.json")) as f:
        assert json.load(f)["columns"] == {"text": ["sentence"], "label": "label",
                                           "choices": None}
    loaded = keras.saving.load_model(os.path.join(output, "model.keras"))
    assert isinstance(loaded, keras_gpt1.GPT1TaskModel)
    assert loaded.label_names == ["neg", "pos"]


def test_reinitialize_keeps_architecture_and_tokenizer_but_not_weights(
    pretrained, sentiment, tmp_path
):
    backbone, tokenizer = load_pretrained(pretrained)
    output = str(tmp_path / "fresh")
    finetune(FinetuneConfig(model=pretrained, task="classification", train=sentiment[0],
                            output=output, reinitialize=True, seed=1, max_steps=1,
                            batch_size=16, learning_rate=1e-9, jit_compile=False,
                            verbose=0))
    fresh = artifacts.load_model(output)
    assert fresh.backbone.get_config() == backbone.get_config()
    assert fresh.tokenizer.get_vocabulary() == tokenizer.get_vocabulary()
    for old, new in zip(backbone.weights, fresh.backbone.weights):
        if len(old.shape) >= 2:  # every matrix re-drawn (1e-9 steps move nothing)
            assert not np.allclose(np.asarray(old), np.asarray(new), atol=1e-4), old.path


def test_similarity_regression_and_multiple_choice_run_end_to_end(pretrained, tmp_path):
    rng = np.random.default_rng(0)
    pairs = [("the cat sat", "the cat sat on the mat", f"{rng.uniform(0, 5):.2f}")
             for _ in range(8)]
    header = ("sentence1", "sentence2", "score")
    sts = write_tsv(tmp_path / "sts.tsv", pairs, header=header)
    summary = finetune(FinetuneConfig(model=pretrained, task="similarity",
                                      regression=True, train=sts, validation=sts,
                                      output=str(tmp_path / "sts"), max_steps=2, **FAST))
    assert {"val_pearson", "val_spearman", "val_mse"} <= set(summary)
    assert summary["label_names"] is None and summary["regression"]

    records = [{"context": "the cat sat on the", "question": "where?",
                "choices": ["mat", "log", "fox"], "label": i % 3} for i in range(6)]
    mc = write_jsonl(tmp_path / "mc.jsonl", records)
    summary = finetune(FinetuneConfig(model=pretrained, task="multiple_choice", train=mc,
                                      validation=mc, output=str(tmp_path / "mc"),
                                      max_steps=2, **FAST))
    assert summary["steps"] == 2 and 0.0 <= summary["val_accuracy"] <= 1.0


@pytest.mark.parametrize("cpu_bfloat16, path", [
    ("0", ("float32", True)),  # a CPU without bfloat16 instructions: XLA
    ("1", ("mixed_bfloat16", False)),
])
def test_both_automatic_paths_fine_tune_a_model_pre_trained_with_fused_attention(
    tokenizer, sentiment, tmp_path, monkeypatch, cpu_bfloat16, path
):
    """`--precision auto` on either kind of CPU, from what `pretrain` writes
    by default (attention dropout 0: fused attention), with a last batch
    shorter than the rest (60 = 16 + 16 + 16 + 12)."""
    monkeypatch.setenv("KERAS_GPT1_CPU_BFLOAT16", cpu_bfloat16)
    pretrained = write_pretrained_model(tmp_path / "pre", tokenizer, attention_dropout=0.0)
    rows = open(sentiment[0], encoding="utf-8").read().splitlines()
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(rows[:61]) + "\n", encoding="utf-8")  # header + 60
    summary = finetune(FinetuneConfig(model=pretrained, task="classification",
                                      train=str(train), validation=sentiment[1],
                                      output=str(tmp_path / "tuned"), epochs=1,
                                      batch_size=16, learning_rate=3e-3, verbose=0))
    assert (summary["precision"], summary["jit_compile"]) == path
    assert summary["steps"] == 4 and np.isfinite(summary["train_loss"])


def test_validation_label_not_seen_in_training_fails_before_training(
    pretrained, sentiment, tmp_path
):
    dev = write_tsv(tmp_path / "dev.tsv", [("the cat", "pos"), ("a dog", "meh")])
    with pytest.raises(GPT1InputError,
                       match=r"dev\.tsv: row 3, column 'label': label 'meh' was not seen"):
        finetune(FinetuneConfig(model=pretrained, task="classification",
                                train=sentiment[0], validation=dev,
                                output=str(tmp_path / "out"), **FAST))
    assert not os.path.exists(tmp_path / "out")


def test_existing_output_and_one_class_training_files_are_refused(
    pretrained, sentiment, tmp_path
):
    with pytest.raises(GPT1InputError, match="output already exists"):
        finetune(FinetuneConfig(model=pretrained, task="classification",
                                train=sentiment[0], output=str(tmp_path), **FAST))
    one = write_tsv(tmp_path / "one.tsv", [("the cat", "pos"), ("a cat", "pos")])
    with pytest.raises(GPT1InputError, match="one label only"):
        finetune(FinetuneConfig(model=pretrained, task="classification", train=one,
                                output=str(tmp_path / "out"), **FAST))


def test_a_run_that_learned_nothing_says_so_in_one_line(capsys):
    from keras_gpt1.training.finetune import note_when_nothing_was_learned

    stuck = {"val_accuracy": 0.509, "val_majority_class_accuracy": 0.509,
             "learning_rate": 6.25e-5}
    assert note_when_nothing_was_learned(stuck)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no better than always answering the most frequent class (0.509)" in err
    assert "6.25e-05" in err
    learned = dict(stuck, val_accuracy=0.71)
    assert not note_when_nothing_was_learned(learned)
    assert capsys.readouterr().err == ""


def test_default_learning_rate_is_the_papers_at_768_wide_and_larger_when_narrower():
    from keras_gpt1.hyperparameters import finetune_learning_rate

    assert finetune_learning_rate(768) == 6.25e-5
    assert finetune_learning_rate(256) == pytest.approx(5.625e-4)  # the tiny preset
    assert finetune_learning_rate(64) == 1e-3  # capped
    assert finetune_learning_rate(1024) < 6.25e-5


def test_finetune_without_a_learning_rate_uses_the_width_rule_and_says_so(
    pretrained, sentiment, tmp_path
):
    from keras_gpt1.hyperparameters import finetune_learning_rate

    class AppliedRates(keras.callbacks.Callback):
        """The rate the optimizer applies at each step (not the summary's echo)."""

        rates = []

        def on_train_batch_begin(self, batch, logs=None):
            rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            self.rates.append(float(rate))

    backbone, _ = load_pretrained(pretrained)
    rule = finetune_learning_rate(backbone.hidden_dim)
    assert rule != 6.25e-5  # a narrow model: the rule is not the paper's 768-wide rate
    recorded = AppliedRates()
    summary = finetune(FinetuneConfig(model=pretrained, task="classification",
                                      train=sentiment[0], output=str(tmp_path / "a"),
                                      max_steps=1, batch_size=16, jit_compile=False,
                                      verbose=0), callbacks=[recorded])
    assert summary["learning_rate"] == rule
    assert summary["learning_rate_source"] == "width rule"
    np.testing.assert_allclose(recorded.rates, [rule], rtol=1e-6)  # no warmup in 1 step
    recorded.rates.clear()
    summary = finetune(FinetuneConfig(model=pretrained, task="classification",
                                      train=sentiment[0], output=str(tmp_path / "b"),
                                      max_steps=1, learning_rate=2e-5, batch_size=16,
                                      jit_compile=False, verbose=0), callbacks=[recorded])
    assert (summary["learning_rate"], summary["learning_rate_source"]) == (2e-5, "given")
    np.testing.assert_allclose(recorded.rates, [2e-5], rtol=1e-6)
