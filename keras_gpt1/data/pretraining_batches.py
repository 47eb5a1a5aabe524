"""Pre-training batches from a prepared corpus: the batch at step `s` is a
pure function of `(seed, s, global batch size)`, so a resumed run starts
at any step in O(1) and workers read only their own windows.

The windows (paper §4.1: "randomly sampled, contiguous sequences of 512
tokens") are the corpus cut every `seq_len` tokens, `seq_len + 1` long
(inputs and next-token targets): every token is a target once per epoch.
Epoch `e` shifts the cuts by an offset drawn from `(seed, e)` and visits
its windows in an order drawn from `(seed, e)` (a keyed Feistel
permutation: no table, O(1) per sample). Samples form one endless stream,
epoch after epoch; step `s` takes samples `s * B ... (s + 1) * B - 1`, and
shard `r` of `N` the `B / N` of them from `r * B / N` on, so the shards of
one step together are exactly the one-device batch.

`WindowSampler` needs NumPy only; `pretraining_batches` wraps it in
`tf.data` (TensorFlow's input pipelines and strategies), and
`PretrainingBatches` in a `keras.utils.PyDataset` (any backend).
"""

import keras
import numpy as np

from keras_gpt1.data.prepared_corpus import TRAIN
from keras_gpt1.data.prepared_corpus import VALIDATION
from keras_gpt1.data.prepared_corpus import PreparedCorpus
from keras_gpt1.errors import GPT1InputError

FEISTEL_ROUNDS = 4
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x):
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _key(*values):
    """One uint64 key from small non-negative integers."""
    key = np.uint64(0)
    with np.errstate(over="ignore"):
        for value in values:
            key = _mix(np.asarray(key ^ (np.uint64(value) + _GOLDEN), np.uint64))
    return np.uint64(key)


def permute(indices, n, key):
    """`indices` (in `[0, n)`) through the permutation of `[0, n)` that
    `key` names: a balanced Feistel network on the smallest even number of
    bits that covers `n`, walked again while the result is `>= n`."""
    indices = np.asarray(indices, np.uint64)
    half = max(1, (max(int(n) - 1, 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    round_keys = [_key(int(key), r) for r in range(FEISTEL_ROUNDS)]

    def once(x):
        left, right = x >> np.uint64(half), x & mask
        for round_key in round_keys:
            left, right = right, left ^ (_mix(right ^ round_key) & mask)
        return (left << np.uint64(half)) | right

    out = once(indices)
    outside = out >= np.uint64(n)
    while outside.any():
        out[outside] = once(out[outside])
        outside = out >= np.uint64(n)
    return out.astype(np.int64)


class WindowSampler:
    """Windows of `seq_len + 1` tokens of one split, in the epoch order of
    `seed` (see the module docstring).

    Args:
        stream: a `TokenStream` (`PreparedCorpus.stream(split)`).
        seq_len: tokens a model reads per window.
        seed: the order's seed.
        vocabulary_size: ids at or above it are a damaged shard.
    """

    def __init__(self, stream, seq_len, seed=0, vocabulary_size=None):
        if seq_len < 1:
            raise GPT1InputError(f"seq_len must be >= 1; got {seq_len}")
        tokens = len(stream)
        windows = (tokens - seq_len) // seq_len
        if windows < 1:
            windows = (tokens - 1) // seq_len
        if windows < 1:
            raise GPT1InputError(
                f"corpus too small: {tokens} tokens give no window of {seq_len + 1} "
                "tokens; add text or lower --seq-len")
        self.stream = stream
        self.seq_len = seq_len
        self.seed = int(seed)
        self.vocabulary_size = vocabulary_size
        self.windows_per_epoch = windows
        # Room to shift the cuts without running past the end.
        self.offsets = min(tokens - 1 - windows * seq_len + 1, seq_len)

    def epoch_offset(self, epoch):
        return int(_key(self.seed, epoch, 1) % np.uint64(self.offsets))

    def window_starts(self, samples):
        """First token of each sample (int64 `(n,)`) of the endless stream."""
        samples = np.asarray(samples, np.int64)
        epochs, positions = np.divmod(samples, self.windows_per_epoch)
        starts = np.empty(len(samples), np.int64)
        for epoch in np.unique(epochs):
            chosen = epochs == epoch
            order = permute(positions[chosen], self.windows_per_epoch,
                            _key(self.seed, int(epoch), 0))
            starts[chosen] = self.epoch_offset(int(epoch)) + order * self.seq_len
        return starts

    def windows(self, samples):
        """int32 `(n, seq_len + 1)`: the windows of `samples`."""
        length = self.seq_len + 1
        out = np.stack([self.stream.read(int(s), length)
                        for s in self.window_starts(samples)])
        if self.vocabulary_size is not None and out.size and (
                int(out.max()) >= self.vocabulary_size):
            raise GPT1InputError(
                f"token id {int(out.max())} is outside the vocabulary of "
                f"{self.vocabulary_size}: a shard is damaged (prepare-corpus --verify)")
        return out

    def batch(self, step, batch_size, shard_index=0, num_shards=1):
        """Shard `shard_index`'s windows of step `step`: int32 `(batch_size /
        num_shards, seq_len + 1)`."""
        per_shard = shard_batch_size(batch_size, num_shards)
        first = step * batch_size + shard_index * per_shard
        return self.windows(np.arange(first, first + per_shard))


def shard_batch_size(batch_size, num_shards):
    if batch_size < 1 or num_shards < 1:
        raise GPT1InputError(
            f"batch_size and num_shards must be >= 1; got {batch_size}, {num_shards}")
    if batch_size % num_shards:
        raise GPT1InputError(
            f"global batch {batch_size} does not split evenly over {num_shards} shards")
    return batch_size // num_shards


def _sampler(data_dir, seq_len, seed, split):
    if split not in (TRAIN, VALIDATION):
        raise GPT1InputError(f"split must be '{TRAIN}' or '{VALIDATION}'; got {split!r}")
    corpus = data_dir if isinstance(data_dir, PreparedCorpus) else PreparedCorpus(data_dir)
    return WindowSampler(corpus.stream(split), seq_len, seed, corpus.vocabulary_size)


def split_window(window):
    """`(inputs, next-token targets)` of windows `(..., seq_len + 1)`."""
    return window[..., :-1], window[..., 1:]


def tf_batches(sampler, batch_size, start_step=0, shard_indices=(0,), num_shards=1):
    """Endless `tf.data.Dataset` of `(x, y)` int32 batches: for each step
    from `start_step`, one batch per shard in `shard_indices`, in that
    order (a pipeline that feeds several replicas yields their batches in
    turn)."""
    import tensorflow as tf

    shard_indices = [int(i) for i in shard_indices]
    per_shard = shard_batch_size(batch_size, num_shards)
    local = len(shard_indices)

    def window_batch(j):
        step, turn = divmod(int(j), local)
        return sampler.batch(step, batch_size, shard_indices[turn], num_shards)

    def read(j):
        windows = tf.numpy_function(window_batch, [j], tf.int32, stateful=False)
        windows.set_shape((per_shard, sampler.seq_len + 1))
        return split_window(windows)

    steps = tf.data.Dataset.range(start_step * local, np.iinfo(np.int64).max)
    batches = steps.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def pretraining_batches(data_dir, *, seq_len, batch_size, seed=0, start_step=0,
                        num_shards=1, shard_index=0, split=TRAIN):
    """The batches `pretrain --data` trains on, as an endless `tf.data.Dataset`
    of `(x, y)` int32 `(batch_size / num_shards, seq_len)`: shard
    `shard_index` of each global batch of `batch_size` windows, from step
    `start_step` on (O(1): nothing is replayed).

    Example:
    ```python
    for x, y in pretraining_batches("corpus/", seq_len=512, batch_size=64).take(3):
        ...
    ```
    """
    sampler = _sampler(data_dir, seq_len, seed, split)
    return tf_batches(sampler, batch_size, start_step, (shard_index,), num_shards)


def validation_windows(data_dir, seq_len, max_windows=256):
    """The held-out windows (int32 `(n, seq_len + 1)`): up to `max_windows`
    non-overlapping windows spread evenly over the validation documents,
    the same at every start."""
    corpus = data_dir if isinstance(data_dir, PreparedCorpus) else PreparedCorpus(data_dir)
    stream = corpus.stream(VALIDATION)
    available = (len(stream) - 1) // seq_len
    if available < 1:
        raise GPT1InputError(
            f"the validation split holds {len(stream)} tokens: too few for one window "
            f"of {seq_len + 1}; prepare with a larger --validation-fraction or lower "
            "--seq-len")
    chosen = np.unique(np.linspace(0, available - 1, min(max_windows, available))
                       .round().astype(np.int64))
    return np.stack([stream.read(int(k) * seq_len, seq_len + 1) for k in chosen])


class SamplerBatches(keras.utils.PyDataset):
    """A `WindowSampler`'s global batches as a Keras `PyDataset`: item `i` is
    step `start_step + i`'s `(x, y)`; `steps` items (None: endless, for
    `fit` with `steps_per_epoch`). Any backend, no TensorFlow."""

    def __init__(self, sampler, batch_size, start_step=0, steps=None, num_shards=1,
                 shard_index=0, **kwargs):
        super().__init__(**kwargs)
        shard_batch_size(batch_size, num_shards)
        self.sampler = sampler
        self.batch_size = batch_size
        self.start_step = start_step
        self.steps = steps
        self.num_shards = num_shards
        self.shard_index = shard_index

    def __getitem__(self, index):
        windows = self.sampler.batch(self.start_step + index, self.batch_size,
                                     self.shard_index, self.num_shards)
        return split_window(windows)

    @property
    def num_batches(self):
        return self.steps


class PretrainingBatches(SamplerBatches):
    """The same batches as `pretraining_batches`, as a Keras `PyDataset` (any
    backend, no TensorFlow): item `i` is step `start_step + i`'s `(x, y)`
    for shard `shard_index`; `steps` items (None: endless, for `fit` with
    `steps_per_epoch`)."""

    def __init__(self, data_dir, *, seq_len, batch_size, seed=0, start_step=0,
                 steps=None, num_shards=1, shard_index=0, split=TRAIN, **kwargs):
        shard_batch_size(batch_size, num_shards)
        super().__init__(_sampler(data_dir, seq_len, seed, split), batch_size, start_step,
                         steps, num_shards, shard_index, **kwargs)


class ArrayBatches(keras.utils.PyDataset):
    """Fixed windows (int32 `(n, seq_len + 1)`, e.g. `validation_windows`)
    as `(x, y)` batches of `batch_size` (the last one may be smaller)."""

    def __init__(self, windows, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.windows = windows
        self.batch_size = batch_size

    def __getitem__(self, index):
        return split_window(self.windows[index * self.batch_size:
                                         (index + 1) * self.batch_size])

    @property
    def num_batches(self):
        return -(-len(self.windows) // self.batch_size)
