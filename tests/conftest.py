"""Shared fixtures: tiny configs, a tiny trained tokenizer, round-trip check."""

import os
import socket

import keras
import numpy as np
import pytest

import keras_gpt1

TINY_CONFIG = dict(
    vocabulary_size=300,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=64,
    max_sequence_length=24,
    dropout=0.0,
)

# A small English corpus the tests write themselves (no download, no ../shared).
CORPUS_LINES = [
    "The cat sat on the mat. The dog sat on the log.",
    "A quick brown fox jumps over the lazy dog; the fox is quick.",
    "Language models predict the next token from the tokens before it.",
    "Pre-training on unlabeled text, then fine-tuning on labelled tasks.",
    "Numbers like 12, 345 and 6789 appear; so do 'quotes' and \"marks\".",
    "Accents: café, naïve, über, señor. Tabs\tand  double  spaces.",
    "",
]


def write_corpus(path, repeat=40):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(repeat):
            for line in CORPUS_LINES:
                f.write(f"{line} {i}\n" if line else "\n")
    return str(path)


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt")


@pytest.fixture(scope="session")
def tokenizer(corpus_file):
    from keras_gpt1.tokenizers import train_bpe

    return train_bpe([corpus_file], vocabulary_size=400)


@pytest.fixture
def tiny_backbone():
    keras.utils.set_random_seed(0)
    return keras_gpt1.GPT1Backbone(**TINY_CONFIG)


def random_ids(batch, length, vocabulary_size=TINY_CONFIG["vocabulary_size"], seed=0):
    return np.random.default_rng(seed).integers(
        0, vocabulary_size, (batch, length)
    ).astype("int32")


def assert_keras_round_trip(obj, inputs, tmp_path, atol=0.0):
    """Save `obj` (a layer or model) to `.keras`, load it, same outputs."""
    if isinstance(obj, keras.Model):
        model = obj
    else:
        model = keras.Sequential([keras.Input(inputs.shape[1:], dtype=inputs.dtype), obj])
    expected = keras.ops.convert_to_numpy(model(inputs))
    path = os.path.join(tmp_path, "object.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode on
    got = keras.ops.convert_to_numpy(loaded(inputs))
    np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    return loaded


def free_ports(n):
    """`n` TCP ports free on 127.0.0.1 now (for a local multi-worker cluster)."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


BLOCK_TENSORFLOW = """
import importlib.machinery
import sys


class _Missing:
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

    def exec_module(self, module):
        pass


class _NoTensorFlow:
    # A spec without an origin whose loading fails: `import tensorflow`
    # raises ModuleNotFoundError, as where it is not installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_text"):
            return importlib.machinery.ModuleSpec(name, _Missing(), origin=None)
        return None


sys.meta_path.insert(0, _NoTensorFlow())
"""



def pythonpath_without_tensorflow(directory, *rest):
    """A PYTHONPATH under which a new Python process cannot import
    TensorFlow or TensorFlow Text, as on a JAX or PyTorch machine without
    them: a `sitecustomize.py` written into `directory` goes first."""
    with open(os.path.join(directory, "sitecustomize.py"), "w", encoding="utf-8") as f:
        f.write(BLOCK_TENSORFLOW)
    return os.pathsep.join([str(directory), *map(str, rest)])
