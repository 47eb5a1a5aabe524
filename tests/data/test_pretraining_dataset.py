import numpy as np
import pytest

from keras_gpt1 import GPT1InputError
from keras_gpt1.data.pretraining_dataset import packed_windows
from keras_gpt1.data.pretraining_dataset import pretraining_datasets
from keras_gpt1.data.pretraining_dataset import token_stream


def test_token_stream_is_the_concatenated_file_text(tokenizer, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("first line\nsecond line\n")
    b.write_text("third line\n")
    ids = [int(t) for t in token_stream([str(a), str(b)], tokenizer)]
    text = tokenizer.detokenize([ids])[0]
    assert text == "first line\nsecond line\nthird line\n"


def test_windows_are_contiguous_and_cover_the_stream(tokenizer, corpus_file):
    stream = np.array([int(t) for t in token_stream([corpus_file], tokenizer)])
    windows = [w.numpy() for _, w in packed_windows([corpus_file], tokenizer, 15)]
    assert len(windows) == len(stream) // 16
    np.testing.assert_array_equal(np.concatenate(windows), stream[: len(windows) * 16])


def test_inputs_and_targets_are_shifted_by_one_and_validation_is_held_out(tokenizer, corpus_file):
    train, validation, n_val = pretraining_datasets(
        [corpus_file], tokenizer, seq_len=15, batch_size=4, validation_every=5
    )
    x, y = next(iter(train))
    assert x.shape == (4, 15) and y.shape == (4, 15)
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    windows = np.stack([w.numpy() for _, w in packed_windows([corpus_file], tokenizer, 15)])
    held_out, rest = windows[::5], np.delete(windows, np.s_[::5], axis=0)
    got_val = np.concatenate([np.concatenate([bx, by[:, -1:]], 1) for bx, by in validation])
    np.testing.assert_array_equal(got_val, held_out)
    # The first pass of the (shuffled, repeated) training stream is a
    # permutation of exactly the windows not held out.
    rows = np.concatenate([np.concatenate([bx, by[:, -1:]], 1) for bx, by in train.take(len(rest) // 4 + 1)])
    first_pass = rows[: len(rest)]
    assert n_val == len(held_out)
    np.testing.assert_array_equal(
        first_pass[np.lexsort(first_pass.T[::-1])], rest[np.lexsort(rest.T[::-1])]
    )


def test_same_seed_gives_the_same_order_and_skip_resumes_it(tokenizer, corpus_file):
    def batches(skip=0, seed=3):
        train, _, _ = pretraining_datasets(
            [corpus_file], tokenizer, 15, 4, seed=seed, skip_batches=skip
        )
        return [x.numpy() for x, _ in train.take(6 - skip)]

    full = batches()
    np.testing.assert_array_equal(np.stack(full), np.stack(batches()))
    np.testing.assert_array_equal(np.stack(full[2:]), np.stack(batches(skip=2)))


def test_corpus_too_small_for_two_windows_is_a_clear_error(tokenizer, tmp_path):
    path = tmp_path / "small.txt"
    path.write_text("tiny\n")
    with pytest.raises(GPT1InputError, match="corpus too small"):
        pretraining_datasets([str(path)], tokenizer, seq_len=64, batch_size=2)
