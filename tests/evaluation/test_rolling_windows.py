"""`rolling_windows` is lm-evaluation-harness's rule (its own functions are
the reference), at its stride and at any other, and every token is scored
once."""

import pytest

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.evaluation.rolling_windows import rolling_windows
from keras_gpt1.evaluation.token_scorer import padded_length
from keras_gpt1.evaluation.token_scorer import padded_rows

PREFIX = -1


def harness_windows(tokens, max_length, stride):
    from lm_eval import utils

    windows = utils.get_rolling_token_windows(
        token_list=tokens, prefix_token=PREFIX, max_seq_len=max_length,
        context_len=max_length - stride + 1)
    return [(list(a), list(b)) for a, b in map(utils.make_disjoint_window, windows)]


def test_windows_equal_the_harness_at_every_stride():
    pytest.importorskip("lm_eval", reason="needs the 'eval' extra (lm-eval)",
                        exc_type=ImportError)
    for n in range(0, 30):
        tokens = list(range(100, 100 + n))
        for max_length in (1, 2, 5, 8):
            for stride in range(1, max_length + 1):
                assert rolling_windows(tokens, PREFIX, max_length, stride) == \
                    harness_windows(tokens, max_length, stride), (n, max_length, stride)


def test_every_token_is_scored_once_with_at_most_max_length_read():
    tokens = list(range(50))
    for stride in (1, 3, 8):
        windows = rolling_windows(tokens, PREFIX, 8, stride)
        assert [t for _, continuation in windows for t in continuation] == tokens
        assert windows[0] == ([PREFIX], tokens[:8])
        for context, continuation in windows[1:]:
            read = (context + continuation)[:-1]
            assert len(read) == 8 and len(continuation) <= stride
            # the context is what precedes the continuation in the text
            assert context == tokens[tokens.index(continuation[0]) - len(context):
                                     tokens.index(continuation[0])]


def test_the_default_stride_is_max_length():
    tokens = list(range(20))
    assert rolling_windows(tokens, PREFIX, 8) == rolling_windows(tokens, PREFIX, 8, 8)
    assert rolling_windows([], PREFIX, 8) == []


@pytest.mark.parametrize("stride", [0, 9, -1])
def test_a_stride_outside_1_to_max_length_is_refused(stride):
    with pytest.raises(GPT1InputError, match=rf"stride must be in \[1, 8\]; got {stride}"):
        rolling_windows([1, 2, 3], PREFIX, 8, stride)


def test_batches_are_padded_to_a_few_shapes():
    assert [padded_length(n, 512) for n in (1, 16, 17, 100, 257, 511, 512)] == \
        [16, 16, 32, 128, 512, 512, 512]
    assert padded_length(30, 24) == 24
    assert len({padded_length(n, 512) for n in range(1, 513)}) == 6
    assert [padded_rows(n, 8) for n in (1, 2, 3, 5, 8)] == [1, 2, 4, 8, 8]
