"""Helpers of the fine-tuning tests: a tiny "pre-trained" model directory
and small labelled files the tests write themselves."""

import json
import os

import keras
import numpy as np

from keras_gpt1 import GPT1Backbone
from keras_gpt1 import GPT1CausalLM
from keras_gpt1 import artifacts

TINY_TASK_CONFIG = dict(
    num_layers=1,
    num_heads=2,
    hidden_dim=64,
    intermediate_dim=128,
    max_sequence_length=24,
    dropout=0.0,
)
# Words of the test corpus (conftest.CORPUS_LINES), so they are few tokens.
POSITIVE = ["cat", "mat", "sat", "quick"]
NEGATIVE = ["dog", "log", "fox", "lazy"]


def write_pretrained_model(directory, tokenizer, seed=0, **config):
    """A randomly initialised GPT1CausalLM saved like `keras-gpt1 pretrain`
    (`config` overrides the tiny backbone's)."""
    keras.utils.set_random_seed(seed)
    backbone = GPT1Backbone(vocabulary_size=tokenizer.vocabulary_size(),
                            **{**TINY_TASK_CONFIG, **config})
    os.makedirs(directory)
    artifacts.save_model_file(GPT1CausalLM(backbone, tokenizer=tokenizer),
                              os.path.join(directory, artifacts.MODEL_FILE))
    tokenizer.save_to_directory(directory)
    return str(directory)


def separable_sentences(n, seed=0):
    """`n` (sentence, label) pairs: "pos" sentences use POSITIVE words only,
    "neg" ones NEGATIVE words only."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.choice(POSITIVE if label == "pos" else NEGATIVE, 4)
        rows.append((" ".join(["the", *words]), label))
    return rows


def write_tsv(path, rows, header=("sentence", "label")):
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return str(path)


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return str(path)
