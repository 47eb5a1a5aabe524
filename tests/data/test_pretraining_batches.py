"""The batch at step s is a pure function of (seed, s, global batch): every
window once per epoch in a new order, shards that together are the
one-device batch, any step in O(1)."""

import numpy as np
import pytest
from conftest import write_corpus

from keras_gpt1 import GPT1InputError
from keras_gpt1.data.corpus_preparation import PrepareConfig
from keras_gpt1.data.corpus_preparation import prepare_corpus
from keras_gpt1.data.prepared_corpus import TRAIN
from keras_gpt1.data.prepared_corpus import PreparedCorpus
from keras_gpt1.data.pretraining_batches import PretrainingBatches
from keras_gpt1.data.pretraining_batches import WindowSampler
from keras_gpt1.data.pretraining_batches import permute
from keras_gpt1.data.pretraining_batches import pretraining_batches
from keras_gpt1.data.pretraining_batches import validation_windows

SEQ_LEN = 16
BATCH = 8


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    corpus = write_corpus(root / "corpus.txt")
    prepare_corpus(PrepareConfig([corpus], str(root / "p"), vocab_size=400, workers=1,
                                 verbose=0))
    return str(root / "p")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64, 1000, 4097])
def test_the_window_order_is_a_permutation_that_depends_on_its_key(n):
    order = permute(np.arange(n), n, key=7)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    if n >= 64:
        assert not np.array_equal(order, permute(np.arange(n), n, key=8))
        assert not np.array_equal(order, np.arange(n))


def test_every_window_once_per_epoch_in_a_new_order(prepared):
    sampler = WindowSampler(PreparedCorpus(prepared).stream(TRAIN), SEQ_LEN, seed=3)
    w = sampler.windows_per_epoch
    epochs = [sampler.window_starts(np.arange(e * w, (e + 1) * w)) for e in range(3)]
    for e, starts in enumerate(epochs):
        offset = sampler.epoch_offset(e)
        np.testing.assert_array_equal(np.sort(starts),
                                      offset + SEQ_LEN * np.arange(w))
    assert len({tuple((s - sampler.epoch_offset(e)) // SEQ_LEN)
                for e, s in enumerate(epochs)}) == 3
    windows = sampler.windows(np.arange(w))
    stream = PreparedCorpus(prepared).stream(TRAIN)
    first = int(epochs[0][0])
    np.testing.assert_array_equal(windows[0], stream.read(first, SEQ_LEN + 1))


@pytest.mark.parametrize("num_shards", [1, 2, 4])
def test_shards_of_a_step_are_disjoint_and_together_the_one_shard_batch(prepared,
                                                                        num_shards):
    sampler = WindowSampler(PreparedCorpus(prepared).stream(TRAIN), SEQ_LEN, seed=1)
    for step in (0, 5, sampler.windows_per_epoch // BATCH + 3):  # one crosses an epoch
        whole = sampler.batch(step, BATCH)
        starts = sampler.window_starts(np.arange(step * BATCH, (step + 1) * BATCH))
        parts = [sampler.batch(step, BATCH, r, num_shards) for r in range(num_shards)]
        assert all(len(p) == BATCH // num_shards for p in parts)
        np.testing.assert_array_equal(np.concatenate(parts), whole)
        assert len(set(starts)) == BATCH  # no window twice in a step


def test_the_tf_dataset_from_any_step_equals_the_sampler(prepared):
    sampler = WindowSampler(PreparedCorpus(prepared).stream(TRAIN), SEQ_LEN, seed=2)
    dataset = pretraining_batches(prepared, seq_len=SEQ_LEN, batch_size=BATCH, seed=2,
                                  start_step=1000, num_shards=2, shard_index=1)
    for step, (x, y) in zip(range(1000, 1003), dataset):
        window = sampler.batch(step, BATCH, 1, 2)
        np.testing.assert_array_equal(x.numpy(), window[:, :-1])
        np.testing.assert_array_equal(y.numpy(), window[:, 1:])
        assert x.dtype == "int32" and x.shape == (BATCH // 2, SEQ_LEN)
    batches = PretrainingBatches(prepared, seq_len=SEQ_LEN, batch_size=BATCH, seed=2,
                                 start_step=1000, steps=3)
    np.testing.assert_array_equal(batches[2][0], sampler.batch(1002, BATCH)[:, :-1])


def test_validation_windows_are_fixed_and_from_held_out_documents(prepared):
    a = validation_windows(prepared, SEQ_LEN)
    np.testing.assert_array_equal(a, validation_windows(prepared, SEQ_LEN))
    stream = PreparedCorpus(prepared).stream("validation")
    np.testing.assert_array_equal(a[0], stream.read(0, SEQ_LEN + 1))
    with pytest.raises(GPT1InputError, match="too few for one window"):
        validation_windows(prepared, 500)


def test_bad_requests_are_refused(prepared):
    with pytest.raises(GPT1InputError, match="does not split evenly over 3 shards"):
        pretraining_batches(prepared, seq_len=SEQ_LEN, batch_size=8, num_shards=3)
    with pytest.raises(GPT1InputError, match="corpus too small"):
        pretraining_batches(prepared, seq_len=100_000, batch_size=8)
    with pytest.raises(GPT1InputError, match="split must be"):
        pretraining_batches(prepared, seq_len=SEQ_LEN, batch_size=8, split="test")
