"""New token-embedding rows for the fine-tuning special tokens.

The original fine-tuning code (`train.py`) extends the pre-trained
embedding with `n_special` rows drawn from N(0, 0.02), one per special
token (`_start_`, `_delimiter_`, `_classify_`), placed right after the
40,478 BPE rows, which is where `OpenAIGPTTokenizer` puts their ids.
"""

import numpy as np

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.hyperparameters import INITIALIZER_STDDEV


def add_special_token_rows(backbone, num_tokens, seed=None):
    """A copy of `backbone` with `num_tokens` more embedding rows.

    Args:
        backbone: a `GPT1Backbone`, e.g. an imported GPT-1.
        num_tokens: rows to append (3 for GPT-1's special tokens;
            `tokenizer.vocabulary_size() - backbone.vocabulary_size`).
        seed: seed of the N(0, 0.02) draw of the new rows.

    Returns a new `GPT1Backbone` with `vocabulary_size + num_tokens` token
    rows: the old rows, then the new ones; every other weight copied. The
    input backbone is left as it was.

    Example:
    ```python
    backbone = add_special_token_rows(lm.backbone, 3, seed=0)
    lm = GPT1CausalLM(backbone, tokenizer=lm.tokenizer)
    ```
    """
    from keras_gpt1.models.gpt1_backbone import GPT1Backbone

    if not isinstance(num_tokens, int) or num_tokens < 0:
        raise GPT1InputError(f"num_tokens must be an integer >= 0; got {num_tokens!r}")
    config = backbone.get_config()
    config["vocabulary_size"] = backbone.vocabulary_size + num_tokens
    extended = GPT1Backbone.from_config(config)

    old_rows = np.asarray(backbone.token_embedding.embeddings)
    new_rows = np.random.default_rng(seed).normal(
        0.0, INITIALIZER_STDDEV, (num_tokens, backbone.hidden_dim)
    )
    token_rows = backbone.token_embedding.embeddings.path
    for old, new in zip(backbone.weights, extended.weights):
        # Same architecture, so the same variables in the same order.
        assert old.path == new.path, (old.path, new.path)
        if old.path == token_rows:
            new.assign(np.concatenate([old_rows, new_rows.astype(old_rows.dtype)]))
        else:
            new.assign(old)
    return extended
