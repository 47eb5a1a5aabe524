"""Either tokenizer as a Hugging Face `tokenizer.json`, with ids equal to
the in-graph tokenizer's: what `transformers.AutoTokenizer` and Google's
LiteRT-LM runtime load.

- `GPT1Tokenizer` (byte-level BPE): BPE over the GPT-2 byte-to-unicode
  alphabet, the special tokens as added tokens (matched in raw text before
  anything else, as keras-hub's `unsplittable_tokens` are), and the text
  pre-split exactly as keras-hub's in-graph `BytePairTokenizer` splits it.
  That is not quite GPT-2's regex: RE2 has no lookahead, so keras-hub
  keeps a whitespace run that ends in a newline before a non-space as one
  piece (GPT-2 splits the newline off), and only ASCII whitespace plus four
  spaces count as whitespace (U+2028, U+0085, U+2003 or `\\v` are
  punctuation to it, so "'s" after them is no contraction). The stock
  `ByteLevel` pre-tokenizer gives other ids on about 5% of
  whitespace-heavy strings; `KERAS_HUB_SPLIT` gives none.
- `OpenAIGPTTokenizer` (GPT-1's lower-cased `</w>` BPE): BERT's
  normalizer and pre-tokenizer, BPE with the `</w>` word-end suffix and
  `<unk>`. `_start_`, `_delimiter_`, `_classify_` stay plain vocabulary
  entries (ids only, as in the original code: no text maps to them).

Known difference, both: a NUL character ends the text for runtimes that
take C strings (LiteRT-LM).
"""

import json

from keras_gpt1.tokenizers import is_openai_gpt_tokenizer
from keras_gpt1.tokenizers.gpt1_tokenizer import SPECIAL_TOKENS
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer

TOKENIZER_JSON = "tokenizer.json"

# What keras-hub's RE2 splitter treats as whitespace.
KERAS_HUB_WHITESPACE = r"\t\n\f\r \x{a0}\x{2009}\x{202f}\x{3000}"
# keras-hub's pre-split of byte-level BPE, as one Oniguruma regex.
KERAS_HUB_SPLIT = (
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+"
    rf"| ?[^{KERAS_HUB_WHITESPACE}\p{{L}}\p{{N}}]+"
    rf"|[{KERAS_HUB_WHITESPACE}]*\n(?=[^{KERAS_HUB_WHITESPACE}])"
    rf"|[{KERAS_HUB_WHITESPACE}]+(?![^{KERAS_HUB_WHITESPACE}])"
    rf"|[{KERAS_HUB_WHITESPACE}]+"
)


def hf_tokenizer(tokenizer, min_vocabulary_size=0):
    """A `tokenizers.Tokenizer` equal to `tokenizer` (either kind), its
    vocabulary padded with unreachable `<|unused_{i}|>` entries to at least
    `min_vocabulary_size` ids."""
    if is_openai_gpt_tokenizer(tokenizer):
        return _openai_gpt(tokenizer, min_vocabulary_size)
    if isinstance(tokenizer, GPT1Tokenizer):
        return _byte_level(tokenizer, min_vocabulary_size)
    raise TypeError(f"no tokenizer.json for a {type(tokenizer).__name__}")


def tokenizer_json(tokenizer, min_vocabulary_size=0):
    """`tokenizer` as the text of a `tokenizer.json`."""
    return hf_tokenizer(tokenizer, min_vocabulary_size).to_str()


def _padded(vocabulary, min_vocabulary_size):
    """`vocabulary` plus entries no text reaches (BPE builds tokens from
    merges only), up to `min_vocabulary_size` ids."""
    vocabulary = dict(vocabulary)
    next_id = max(vocabulary.values()) + 1
    while next_id < min_vocabulary_size:
        vocabulary[f"<|unused_{next_id}|>"] = next_id
        next_id += 1
    return vocabulary


def _byte_level(tokenizer, min_vocabulary_size):
    from tokenizers import AddedToken
    from tokenizers import Regex
    from tokenizers import Tokenizer
    from tokenizers import decoders
    from tokenizers import models
    from tokenizers import pre_tokenizers

    vocabulary = {str(token): int(i) for token, i in tokenizer.vocabulary.items()}
    merges = [tuple(merge.split(" ")) for merge in tokenizer.merges]
    hf = Tokenizer(models.BPE(vocab=_padded(vocabulary, min_vocabulary_size),
                              merges=merges))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(KERAS_HUB_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS]
    )
    return hf


def _openai_gpt(tokenizer, min_vocabulary_size):
    from tokenizers import Tokenizer
    from tokenizers import decoders
    from tokenizers import models
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers

    from keras_gpt1.tokenizers.openai_gpt_tokenizer import END_OF_WORD
    from keras_gpt1.tokenizers.openai_gpt_tokenizer import UNKNOWN_TOKEN

    merges = [tuple(merge.split(" ")) for merge in tokenizer.merges]
    hf = Tokenizer(models.BPE(
        vocab=_padded(tokenizer.vocabulary, min_vocabulary_size), merges=merges,
        unk_token=UNKNOWN_TOKEN,
        end_of_word_suffix=END_OF_WORD, fuse_unk=False,
    ))
    hf.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
    )
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf.decoder = decoders.BPEDecoder(suffix=END_OF_WORD)
    return hf


def transformers_tokenizer_config(tokenizer):
    """`tokenizer_config.json` that makes `AutoTokenizer` load the
    byte-level `tokenizer.json` (the `openai-gpt` model type would pick
    GPT-1's own tokenizer class, which needs `<unk>`)."""
    return json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "pad_token": tokenizer.pad_token,
        "eos_token": tokenizer.end_token,
        "clean_up_tokenization_spaces": False,
    }, indent=2)
