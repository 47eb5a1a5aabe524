"""A prepared corpus: text tokenized once, stored as flat token shards that
training reads by offset (the layout of nanoGPT's `train.bin` and
Megatron-LM's indexed datasets, written for this project).

    DIR/
      index.json                what is here (below); written last
      tokenizer/                the tokenizer's own files and tokenizer.json
      train/part-00000.tokens   token ids, little-endian uint16 (or uint32
                                when the vocabulary has more than 65,536 ids)
      train/part-00000.docs.npy int64 (documents, 2): each document's first
                                token in the shard and its first line in
                                the source file
      validation/part-00000.tokens, .docs.npy   the same for held-out
                                documents

A split's token stream is its shards in order. Documents are the runs of
lines that end at a blank line (which stays with its document), cut at
`MAX_DOCUMENT_LINES`; each line is tokenized with its newline, as the
in-graph tokenizer tokenizes `line + "\\n"`. Reading needs NumPy only (no
TensorFlow): shards are memory-mapped, so a corpus of any size costs the
pages a batch touches.

`index.json`: `format` ("keras-gpt1-prepared-corpus"), `format_version`,
`dtype`, `vocabulary_size`, `tokenizer` (`class`, `fingerprint`),
`splits` (`train` / `validation`: `tokens`, `documents`, `shards` with
`name`, `tokens`, `documents`, `sha256`), `sources` (per input file:
`name`, `bytes`, `lines`, `documents`), `validation_fraction`, `seed`.
"""

import hashlib
import json
import os

import numpy as np

from keras_gpt1.errors import GPT1InputError

FORMAT = "keras-gpt1-prepared-corpus"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
TOKENIZER_DIR = "tokenizer"
TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)
TOKENS_SUFFIX = ".tokens"
DOCUMENTS_SUFFIX = ".docs.npy"
# A document longer than this many lines is cut (a file without blank lines
# still splits into documents, and one document never fills memory).
MAX_DOCUMENT_LINES = 1000
UINT16_IDS = 1 << 16


def token_dtype(vocabulary_size):
    """The narrowest unsigned dtype that holds every id."""
    return np.dtype("<u2") if vocabulary_size <= UINT16_IDS else np.dtype("<u4")


def tokenizer_fingerprint(tokenizer):
    """sha256 of the tokenizer's class, vocabulary and merges: what two
    preparations (or a preparation and a model) must share."""
    vocabulary = sorted((str(k), int(v)) for k, v in tokenizer.vocabulary.items())
    text = json.dumps([type(tokenizer).__name__, vocabulary, list(tokenizer.merges)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path, chunk=1 << 22):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def shard_paths(directory, split, name):
    """`(tokens path, documents path)` of one shard."""
    base = os.path.join(directory, split, name)
    return base + TOKENS_SUFFIX, base + DOCUMENTS_SUFFIX


class TokenStream:
    """One split's shards as one sequence of token ids, memory-mapped.

    `len(stream)` tokens; `stream.read(start, length)` -> int32 `(length,)`,
    across shard boundaries where it must.
    """

    def __init__(self, arrays):
        self.arrays = [a for a in arrays if len(a)]
        lengths = [len(a) for a in self.arrays]
        self.starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])

    def __len__(self):
        return int(self.starts[-1])

    def read(self, start, length):
        if start < 0 or start + length > len(self):
            raise IndexError(f"tokens [{start}, {start + length}) outside [0, {len(self)})")
        shard = int(np.searchsorted(self.starts, start, side="right")) - 1
        offset = start - int(self.starts[shard])
        piece = self.arrays[shard][offset:offset + length]
        if len(piece) == length:
            return piece.astype(np.int32)
        pieces, remaining = [piece], length - len(piece)
        while remaining:
            shard += 1
            piece = self.arrays[shard][:remaining]
            pieces.append(piece)
            remaining -= len(piece)
        return np.concatenate(pieces).astype(np.int32)


class PreparedCorpus:
    """A prepared-corpus directory, checked and memory-mapped.

    Opening checks what costs no pass over the data: the index (format and
    version), every shard's size against its token count (a truncated
    shard), and the tokenizer's fingerprint against the index. `verify()`
    also hashes every shard (a damaged one). Each is a one-line
    `GPT1InputError`.

    Attributes: `directory`, `index`, `vocabulary_size`, `dtype`,
    `tokenizer_class`, `fingerprint`; `stream(split)` -> `TokenStream`.
    """

    def __init__(self, directory):
        directory = os.fspath(directory)
        self.directory = directory
        self.index = read_index(directory)
        self.vocabulary_size = int(self.index["vocabulary_size"])
        self.dtype = np.dtype(self.index["dtype"])
        self.tokenizer_class = self.index["tokenizer"]["class"]
        self.fingerprint = self.index["tokenizer"]["fingerprint"]
        self._streams = {}
        for split in SPLITS:
            for shard in self.index["splits"][split]["shards"]:
                tokens_path, documents_path = shard_paths(directory, split, shard["name"])
                expected = shard["tokens"] * self.dtype.itemsize
                if not os.path.isfile(tokens_path) or not os.path.isfile(documents_path):
                    raise GPT1InputError(
                        f"{directory}: shard {split}/{shard['name']} is missing")
                if os.path.getsize(tokens_path) != expected:
                    raise GPT1InputError(
                        f"{tokens_path} holds {os.path.getsize(tokens_path)} bytes; "
                        f"the index says {expected} (truncated or replaced)")

    def stream(self, split):
        """The split's tokens (`TRAIN` or `VALIDATION`) as a `TokenStream`."""
        if split not in self._streams:
            arrays = []
            for shard in self.index["splits"][split]["shards"]:
                tokens_path, _ = shard_paths(self.directory, split, shard["name"])
                arrays.append(
                    np.memmap(tokens_path, dtype=self.dtype, mode="r")
                    if shard["tokens"] else np.zeros(0, self.dtype))
            self._streams[split] = TokenStream(arrays)
        return self._streams[split]

    def documents(self, split, shard_name):
        """int64 `(documents, 2)` of one shard: first token, source line."""
        _, documents_path = shard_paths(self.directory, split, shard_name)
        return np.load(documents_path, allow_pickle=False)

    def tokenizer_directory(self):
        return os.path.join(self.directory, TOKENIZER_DIR)

    def load_tokenizer(self):
        """The tokenizer the corpus was prepared with (in-graph, TensorFlow),
        checked against the fingerprint."""
        from keras_gpt1.tokenizers.tokenizer_directory import load_tokenizer

        tokenizer = load_tokenizer(self.tokenizer_directory(), self.tokenizer_class)
        if tokenizer_fingerprint(tokenizer) != self.fingerprint:
            raise GPT1InputError(
                f"{self.tokenizer_directory()}: the tokenizer does not match the "
                "fingerprint of the prepared corpus (files replaced?)")
        return tokenizer

    def check_tokenizer(self, tokenizer):
        """`GPT1InputError` unless `tokenizer` is the one the corpus was
        prepared with."""
        if tokenizer_fingerprint(tokenizer) != self.fingerprint:
            raise GPT1InputError(
                f"{self.directory} was prepared with another tokenizer (fingerprint "
                f"{self.fingerprint[:12]}, this one {tokenizer_fingerprint(tokenizer)[:12]})")

    def verify(self):
        """Hash every shard against the index (a full pass over the data)."""
        for split in SPLITS:
            for shard in self.index["splits"][split]["shards"]:
                for path, key in zip(shard_paths(self.directory, split, shard["name"]),
                                     ("sha256", "documents_sha256"), strict=True):
                    if file_sha256(path) != shard[key]:
                        raise GPT1InputError(f"{path} is damaged: its sha256 differs "
                                             "from the index")

    def tokens(self, split):
        return int(self.index["splits"][split]["tokens"])


def read_index(directory):
    """The checked `index.json` of a prepared corpus."""
    path = os.path.join(directory, INDEX_FILE)
    if not os.path.isdir(directory):
        raise GPT1InputError(f"prepared corpus not found: {directory}")
    if not os.path.isfile(path):
        raise GPT1InputError(
            f"{directory} is not a prepared corpus (no {INDEX_FILE}; make one with "
            "keras-gpt1 prepare-corpus)")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise GPT1InputError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise GPT1InputError(f"{path} is not the index of a keras-gpt1 prepared corpus")
    if index.get("format_version") != FORMAT_VERSION:
        raise GPT1InputError(
            f"{path} has format version {index.get('format_version')}; this keras-gpt1 "
            f"reads version {FORMAT_VERSION}")
    try:
        for split in SPLITS:
            for shard in index["splits"][split]["shards"]:
                int(shard["tokens"]), str(shard["name"])
        int(index["vocabulary_size"]), np.dtype(index["dtype"])
        index["tokenizer"]["class"], index["tokenizer"]["fingerprint"]
    except (KeyError, TypeError, ValueError) as e:
        raise GPT1InputError(f"{path} is incomplete: {type(e).__name__} {e}") from None
    return index
