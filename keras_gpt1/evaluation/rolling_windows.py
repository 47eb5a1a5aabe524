"""Rolling windows: how a text longer than the context is scored, token by
token, in windows of at most `max_length` tokens.

The rule is lm-evaluation-harness's (`utils.get_rolling_token_windows`
with `context_len = max_length - stride + 1`, then
`utils.make_disjoint_window`), which its Hugging Face model uses for
`loglikelihood_rolling` (WikiText) with `stride = max_length`:

- the first window scores tokens `[0, min(n, max_length))`, conditioned on
  the prefix token alone (GPT-1 has no beginning-of-text token; see
  `prefix_token.py`);
- each later window scores the next `stride` tokens (fewer at the end),
  conditioned on as many tokens before them as fit: the model reads
  `max_length` tokens, the last `max_length + 1 - count` of which precede
  the `count` tokens it scores.

With the harness's `stride = max_length`, a full later window therefore
predicts its first token from one token of context; a smaller stride gives
every scored token at least `max_length - stride + 1` tokens of context,
for `ceil((n - max_length) / stride)` more windows. Every token is scored
exactly once, whatever the stride.
"""

from keras_gpt1.errors import GPT1InputError


def rolling_windows(token_ids, prefix_token_id, max_length, stride=None):
    """`(context ids, continuation ids)` pairs, lists of ints, that score
    each of `token_ids` once (module docstring).

    Args:
        token_ids: the text's ids, a list of ints (may be empty: no window).
        prefix_token_id: the id the first window is conditioned on.
        max_length: tokens the model reads at once (GPT-1: 512).
        stride: tokens scored per window after the first, in
            `[1, max_length]`; default `max_length` (the harness's rule).

    Each pair is scored as `(context + continuation)[-(max_length + 1):]`:
    the model reads all but the last of those tokens and the continuation
    is what it predicts.
    """
    stride = max_length if stride is None else stride
    if not 1 <= stride <= max_length:
        raise GPT1InputError(f"stride must be in [1, {max_length}]; got {stride}")
    token_ids = list(token_ids)
    if not token_ids:
        return []
    first = min(max_length, len(token_ids))
    windows = [([prefix_token_id], token_ids[:first])]
    scored = first
    while scored < len(token_ids):
        end = scored + min(len(token_ids) - scored, stride)
        # scored >= max_length here, so the start is never negative.
        windows.append((token_ids[end - max_length - 1:scored], token_ids[scored:end]))
        scored = end
    return windows
