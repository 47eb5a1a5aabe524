"""Perplexity of a text under the rolling-window rule of
lm-evaluation-harness (`rolling_windows.py`), normalised by tokens, words
and bytes as the harness's `wikitext` task reports it.

With `LL` the text's total log-likelihood (natural log, every token scored
once, the first one after the prefix token):

- `token_perplexity = exp(-LL / tokens)`: depends on the tokenizer, so it
  compares models that share one;
- `word_perplexity = exp(-LL / words)`, words counted as the harness does,
  `len(re.split(r"\\s+", text))`;
- `byte_perplexity = exp(-LL / bytes)` and `bits_per_byte = -LL / bytes /
  ln 2`, bytes of the UTF-8 text: comparable across tokenizers.

The harness scores each document of a task on its own and sums `LL`,
words and bytes over documents; a file here is one document.
"""

import math
import re

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.evaluation.prefix_token import resolve_prefix_token_id
from keras_gpt1.evaluation.rolling_windows import rolling_windows
from keras_gpt1.evaluation.token_scorer import TokenScorer


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def word_count(text):
    """Words as lm-evaluation-harness counts them for `word_perplexity`."""
    return len(re.split(r"\s+", text))


def read_text_file(path):
    """The UTF-8 text of `path`; `GPT1InputError` if missing, not UTF-8 or
    empty."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise GPT1InputError(f"text file not found: {path}") from None
    except IsADirectoryError:
        raise GPT1InputError(f"{path} is a directory, not a text file") from None
    except UnicodeDecodeError as e:
        raise GPT1InputError(f"{path} is not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise GPT1InputError(f"{path} holds no text")
    return text


def perplexity(model, text=None, path=None, max_length=None, stride=None,
               prefix_token_id=None, batch_size=8, on_batch=None):
    """Perplexity of `text` (a string) or of the file `path` under `model`
    (anything `load_causal_lm` takes).

    Args:
        max_length: tokens the model reads at once (default its context:
            512 for GPT-1).
        stride: tokens scored per window after the first (default
            `max_length`, the harness's rule; smaller gives each token
            more context, `rolling_windows`).
        prefix_token_id: the token before the first (default in
            `prefix_token.py`).
        batch_size: windows per forward pass.
        on_batch: called with the number of windows done after each batch.

    Returns a dict: `tokens`, `words`, `bytes`, `windows`,
    `log_likelihood`, `token_perplexity`, `word_perplexity`,
    `byte_perplexity`, `bits_per_byte`, `max_length`, `stride`,
    `prefix_token_id`.
    """
    from keras_gpt1.evaluation.model_loading import load_causal_lm
    from keras_gpt1.token_ids import token_id_lists

    if (text is None) == (path is None):
        raise GPT1InputError("give one of text or path")
    if path is not None:
        text = read_text_file(path)
    elif not text:
        raise GPT1InputError("text is empty")
    lm = load_causal_lm(model)
    scorer = TokenScorer(lm, max_length, batch_size)
    stride = scorer.max_length if stride is None else int(stride)
    prefix = resolve_prefix_token_id(lm.tokenizer, lm.backbone.vocabulary_size,
                                     prefix_token_id)
    ids = token_id_lists(lm.tokenizer, [text])[0]
    if not ids:
        raise GPT1InputError("the text has no tokens")
    windows = rolling_windows(ids, prefix, scorer.max_length, stride)
    log_likelihood = sum(ll for ll, _ in scorer.score(windows, on_batch))
    return {
        **normalised_perplexities(log_likelihood, len(ids), text),
        "windows": len(windows),
        "log_likelihood": log_likelihood,
        "max_length": scorer.max_length,
        "stride": stride,
        "prefix_token_id": prefix,
    }


def normalised_perplexities(log_likelihood, tokens, text):
    """`tokens`, `words`, `bytes` and the perplexities of the module
    docstring for a total `log_likelihood` (natural log) of `tokens` tokens
    spelling `text`."""
    words, size = word_count(text), len(text.encode("utf-8"))
    return {
        "tokens": tokens,
        "words": words,
        "bytes": size,
        "token_perplexity": _exp(-log_likelihood / tokens),
        "word_perplexity": _exp(-log_likelihood / words),
        "byte_perplexity": _exp(-log_likelihood / size),
        "bits_per_byte": -log_likelihood / size / math.log(2),
    }
