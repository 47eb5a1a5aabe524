"""Train a byte-level BPE vocabulary on text files (Hugging Face tokenizers).

The trained vocabulary pre-splits text with the GPT-2 regular expression
and maps bytes to unicode the GPT-2 way, which is what keras-hub's in-graph
`BytePairTokenizer` expects, so ids agree between training and serving.
"""

import codecs
import json
import os

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.tokenizers.gpt1_tokenizer import SPECIAL_TOKENS
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer

# Bytes per read when validating corpus files.
READ_CHUNK = 1 << 20
# 256 byte symbols + the special tokens; anything smaller can't encode text.
MIN_VOCABULARY_SIZE = 256 + len(SPECIAL_TOKENS)


def check_text_files(paths):
    """Raise `GPT1InputError` for a missing, empty or non-UTF-8 file.

    Streams each file (any size) through an incremental UTF-8 decoder.
    """
    if not paths:
        raise GPT1InputError("no corpus file given")
    total_chars = 0
    for path in paths:
        if not os.path.isfile(path):
            raise GPT1InputError(f"corpus file not found: {path}")
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        with open(path, "rb") as f:
            while True:
                chunk = f.read(READ_CHUNK)
                try:
                    text = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as e:
                    raise GPT1InputError(
                        f"{path}: not valid UTF-8 at byte {offset + e.start}"
                    ) from None
                total_chars += len(text.strip())
                if not chunk:
                    break
                offset += len(chunk)
    if total_chars == 0:
        raise GPT1InputError(f"corpus is empty: {', '.join(paths)}")


def train_bpe(paths, vocabulary_size, min_frequency=2):
    """Train byte-level BPE on `paths`; returns a `GPT1Tokenizer`.

    The special tokens take ids 0..4 (`<|pad|>` is 0). The vocabulary may
    come out smaller than `vocabulary_size` on a small corpus.
    """
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    check_text_files(paths)
    if vocabulary_size < MIN_VOCABULARY_SIZE:
        raise GPT1InputError(
            f"vocabulary size {vocabulary_size} is below the minimum of "
            f"{MIN_VOCABULARY_SIZE} (256 bytes + {len(SPECIAL_TOKENS)} "
            "special tokens)"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocabulary_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train([os.fspath(p) for p in paths], trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocabulary = model["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    if not merges and len(vocabulary) >= vocabulary_size:
        raise GPT1InputError(
            f"vocabulary size {vocabulary_size} leaves no room for BPE merges "
            f"(the bytes and special tokens take {MIN_VOCABULARY_SIZE})"
        )
    if not merges:  # keras-hub cannot build a tokenizer without merges
        raise GPT1InputError(
            f"corpus too small to learn a BPE vocabulary: no pair of symbols "
            f"occurs {min_frequency} times in {', '.join(map(str, paths))}"
        )
    return GPT1Tokenizer(vocabulary=vocabulary, merges=merges)
