"""The token a text is conditioned on before its first token, and the token
that ends a generation.

GPT-1 was trained without a beginning- or end-of-text token, yet a
log-likelihood needs something to predict the first token from (an empty
context in lm-evaluation-harness, the first rolling window). The defaults:

- GPT-1's own tokenizer (`OpenAIGPTTokenizer`: OpenAI's weights, a
  converted or Hugging Face `openai-gpt` directory): `<unk>`, id 0, the
  value the original code filled its batches with. Hugging Face's tokenizer
  has no BOS/EOS for this model, so the harness's `hf` model fails on it
  unless given `prefix_token_id=0`; with it, both agree.
- this project's byte-level `GPT1Tokenizer` (models from `pretrain`):
  `<|endoftext|>`, the end token, which `export --format transformers`
  declares as the EOS token, so the harness's `hf` model picks the same one
  by itself.

`prefix_token_id=` overrides the prefix in every entry point; the end
token stays the tokenizer's.
"""

from keras_gpt1.errors import GPT1InputError


def end_of_text_token_id(tokenizer):
    """The id a generation stops at: `<unk>` for GPT-1's tokenizer (no text
    tokenizes to it), else the tokenizer's end token."""
    from keras_gpt1.tokenizers import is_openai_gpt_tokenizer

    if is_openai_gpt_tokenizer(tokenizer):
        return int(tokenizer.unknown_token_id)
    end = getattr(tokenizer, "end_token_id", None)
    if end is None:
        raise GPT1InputError(
            f"{type(tokenizer).__name__} has no end token; pass prefix_token_id"
        )
    return int(end)


def resolve_prefix_token_id(tokenizer, vocabulary_size, requested=None):
    """`requested` (checked against the model's vocabulary), or the default
    of the module docstring."""
    token = end_of_text_token_id(tokenizer) if requested is None else int(requested)
    if not 0 <= token < vocabulary_size:
        raise GPT1InputError(
            f"prefix_token_id {token} is out of range [0, {vocabulary_size})"
        )
    return token
