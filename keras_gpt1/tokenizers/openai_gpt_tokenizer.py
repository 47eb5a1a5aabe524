"""The original GPT-1 tokenizer: lower-cased BPE with a `</w>` end-of-word
suffix over OpenAI's `encoder_bpe_40000.json` / `vocab_40000.bpe` (Hugging
Face ships the same files as `vocab.json` / `merges.txt`).

Ids are those of Hugging Face's `OpenAIGPTTokenizer` in its default mode,
without spaCy and ftfy. That mode pre-tokenizes like BERT's basic tokenizer
(Hugging Face `tokenizers`' `BertNormalizer` + `BertPreTokenizer`):

1. drop NUL, U+FFFD and control/format/private-use characters (category C,
   except tab, newline and carriage return);
2. turn every whitespace character into a space;
3. put spaces around CJK ideographs, so each is a word of its own;
4. NFD-decompose and drop non-spacing marks (accents);
5. lower-case, one character at a time;
6. split on spaces, and split off every punctuation character (Unicode P*
   and ASCII symbols such as `$ + < = > ^ ` | ~`) as a word of its own.

Each word then becomes characters, the last one carrying `</w>`, merged by
BPE rank. Everything runs in TensorFlow ops (`tf.strings`, `tf_text`
regexes and NFD, hash tables and a `tf.while_loop` for the merges), so the
layer works inside `tf.data` and exported graphs.

Known differences from the reference, all about rare characters:
- Character classes come from RE2's Unicode tables, the reference's from an
  older table; a character whose category changed between the two (mostly
  ones assigned after Unicode 9) can be split or dropped differently.
- The original training code ran ftfy, its `text_standardize` and spaCy
  before BPE; that "original" mode is not reproduced here (it cannot run in
  a graph, and Hugging Face's default mode skips it too).

Special tokens. The original fine-tuning code appended `_start_`,
`_delimiter_` and `_classify_` to the 40,478 BPE ids (ids 40478-40480); so
does this tokenizer, when the vocabulary lacks them. They are ids only: no
text tokenizes to them (BERT pre-tokenization splits `_`), which is how the
original code used them too. `extract_token_id` is `_classify_`.
`end_token_id` is also `_classify_`: GPT-1 has no end-of-text token, and a
fine-tuned model learns to predict `_classify_` at the end of each input.
`pad_token_id` is `<unk>` (id 0), the value the original code filled its
batches with before masking. An imported model's embedding has no rows for
the three special tokens until `keras_gpt1.convert.add_special_token_rows`
adds them.
"""

import json
import os

import keras
import tensorflow as tf
import tensorflow_text as tf_text
from keras_hub.tokenizers import Tokenizer

from keras_gpt1.artifacts import read_json
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.token_ids import check_detokenize_input

UNKNOWN_TOKEN = "<unk>"
END_OF_WORD = "</w>"
# Appended by the original `train.py` (`encoder['_start_'] = len(encoder)`).
START_TOKEN = "_start_"
DELIMITER_TOKEN = "_delimiter_"
CLASSIFY_TOKEN = "_classify_"
ORIGINAL_SPECIAL_TOKENS = (START_TOKEN, DELIMITER_TOKEN, CLASSIFY_TOKEN)

# (vocabulary, merges) file names: OpenAI's release, then Hugging Face's.
OPENAI_FILES = ("encoder_bpe_40000.json", "vocab_40000.bpe")
HF_FILES = ("vocab.json", "merges.txt")
TOKENIZER_FILE_PAIRS = (OPENAI_FILES, HF_FILES)
# Names inside a saved `.keras` archive.
VOCABULARY_ASSET, MERGES_ASSET = HF_FILES

# --- BERT basic-tokenizer pre-tokenization, as RE2 patterns ---
# Category C (Cc, Cf, Co, Cs) except \t \n \r, plus NUL and U+FFFD.
CONTROL_PATTERN = r"[\x{0}\x{FFFD}]|[^\t\n\r\P{C}]"
# What is left of Rust's `char::is_whitespace` once controls are gone.
WHITESPACE_PATTERN = r"[\t\n\r\p{Z}]"
# The CJK blocks of `tokenizers`' BertNormalizer (note 2B920, not 2B820).
CJK_PATTERN = (
    r"([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}"
    r"\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}\x{2B920}-\x{2CEAF}"
    r"\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}])"
)
ACCENT_PATTERN = r"\p{Mn}"
PUNCTUATION_PATTERN = r"[\p{P}!-/:-@\[-`{-~]"
SPLIT_PATTERN = r" +|" + PUNCTUATION_PATTERN
# Lower-casing one character at a time never yields the final sigma; ICU's
# string lower-casing would, so capital sigma is mapped first.
CAPITAL_SIGMA, SMALL_SIGMA = "\u03a3", "\u03c3"

# Rank of a pair that is not a merge rule.
NO_MERGE = 2**31 - 1


def read_vocabulary(path):
    """`{token: id}` from a JSON file; ids must be distinct integers."""
    vocabulary = read_json(path, f"tokenizer file not found: {path}")
    check_vocabulary(vocabulary, path)
    return vocabulary


def check_vocabulary(vocabulary, source="vocabulary"):
    if not isinstance(vocabulary, dict) or not vocabulary:
        raise GPT1InputError(f"{source} must be a non-empty {{token: id}} map")
    ids = list(vocabulary.values())
    if not all(isinstance(i, int) and i >= 0 for i in ids):
        raise GPT1InputError(f"{source}: every id must be an integer >= 0")
    if len(set(ids)) != len(ids):
        raise GPT1InputError(f"{source}: two tokens share an id")


def read_merges(path):
    """Merge rules `"a b"` in rank order, as the original `TextEncoder`
    read them: a `#version` first line is skipped, blank lines ignored."""
    if not os.path.isfile(path):
        raise GPT1InputError(f"tokenizer file not found: {path}")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[0].startswith("#version"):
        lines = lines[1:]
    merges = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise GPT1InputError(
                f"{path} line {number}: expected two symbols, got {line!r}"
            )
        merges.append(" ".join(parts))
    return merges


def find_tokenizer_files(directory):
    """`(vocabulary_path, merges_path)` in `directory`, or None."""
    for vocabulary_name, merges_name in TOKENIZER_FILE_PAIRS:
        vocabulary_path = os.path.join(directory, vocabulary_name)
        merges_path = os.path.join(directory, merges_name)
        if os.path.isfile(vocabulary_path) and os.path.isfile(merges_path):
            return vocabulary_path, merges_path
    return None


def bert_pre_tokenize(texts):
    """`(batch,)` strings -> ragged `(batch, words)` strings (steps 1-6 of
    the module docstring)."""
    x = tf.strings.regex_replace(texts, CONTROL_PATTERN, "")
    x = tf.strings.regex_replace(x, WHITESPACE_PATTERN, " ")
    x = tf.strings.regex_replace(x, CJK_PATTERN, r" \1 ")
    x = tf_text.normalize_utf8(x, "NFD")
    x = tf.strings.regex_replace(x, ACCENT_PATTERN, "")
    x = tf.strings.regex_replace(x, CAPITAL_SIGMA, SMALL_SIGMA)
    x = tf.strings.lower(x, encoding="utf-8")
    return tf_text.regex_split(x, SPLIT_PATTERN, PUNCTUATION_PATTERN)


@keras.saving.register_keras_serializable(package="keras_gpt1")
class OpenAIGPTTokenizer(Tokenizer):
    """GPT-1's own BPE tokenizer, as a Keras layer of TF ops.

    Args:
        vocabulary: `{token: id}` (the contents of `encoder_bpe_40000.json`
            or `vocab.json`). `_start_`, `_delimiter_` and `_classify_` are
            appended after the largest id when missing.
        merges: merge rules `"a b"`, best first (`vocab_40000.bpe` or
            `merges.txt` without its `#version` line).
        sequence_length: if set, outputs are dense `(batch,
            sequence_length)`, truncated or padded with `pad_token_id`.

    Call: a string -> int32 ids `(tokens,)`; a list or `(batch,)` tensor of
    strings -> ragged int32 `(batch, None)`. A piece that is not in the
    vocabulary becomes `<unk>` (id 0 in the original vocabulary).
    `detokenize` maps ids back to lower-cased text, words separated by
    spaces.

    Example:
    ```python
    tokenizer = OpenAIGPTTokenizer.from_directory("openai_gpt/")
    tokenizer(["Hello, world!"])   # [[3570, 240, 1276, 267]]
    ```
    """

    def __init__(self, vocabulary=None, merges=None, sequence_length=None,
                 dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.sequence_length = sequence_length
        self.file_assets = [VOCABULARY_ASSET, MERGES_ASSET]
        self.vocabulary = None
        self.merges = None
        if vocabulary is not None or merges is not None:
            self.set_vocabulary_and_merges(vocabulary, merges)

    # === Construction ===
    @classmethod
    def from_files(cls, vocabulary_path, merges_path, **kwargs):
        """Load a vocabulary JSON file and a merges file."""
        return cls(
            vocabulary=read_vocabulary(vocabulary_path),
            merges=read_merges(merges_path),
            **kwargs,
        )

    @classmethod
    def from_directory(cls, directory, **kwargs):
        """Load `encoder_bpe_40000.json` + `vocab_40000.bpe` (OpenAI) or
        `vocab.json` + `merges.txt` (Hugging Face) from `directory`."""
        files = find_tokenizer_files(directory)
        if files is None:
            names = " or ".join(" + ".join(pair) for pair in TOKENIZER_FILE_PAIRS)
            raise GPT1InputError(f"no tokenizer files in {directory}: need {names}")
        return cls.from_files(*files, **kwargs)

    def set_vocabulary_and_merges(self, vocabulary, merges):
        """Check the files' contents and build the lookup tables."""
        if vocabulary is None or merges is None:
            raise GPT1InputError("the tokenizer needs both a vocabulary and merges")
        check_vocabulary(vocabulary)
        vocabulary = dict(vocabulary)
        next_id = max(vocabulary.values()) + 1
        for token in ORIGINAL_SPECIAL_TOKENS:
            if token not in vocabulary:
                vocabulary[token] = next_id
                next_id += 1
        merges = list(merges)
        for rank, merge in enumerate(merges):
            parts = merge.split(" ")
            if len(parts) != 2:
                raise GPT1InputError(f"merge {rank} is not two symbols: {merge!r}")
            missing = [t for t in (parts[0], parts[1], "".join(parts))
                       if t not in vocabulary]
            if missing:
                raise GPT1InputError(
                    f"merge {rank} {merge!r} needs {missing[0]!r}, which is "
                    "not in the vocabulary"
                )
        self.vocabulary = vocabulary
        self.merges = merges
        self._id_to_token = {i: t for t, i in vocabulary.items()}
        self.unknown_token_id = vocabulary.get(UNKNOWN_TOKEN, 0)
        self._build_tables()
        self._set_special_tokens()

    def _build_tables(self):
        tokens = list(self.vocabulary)
        ids = [self.vocabulary[t] for t in tokens]
        self.token_to_id_map = _static_table(tokens, ids, self.unknown_token_id)
        self.id_to_token_map = _static_table(ids, tokens, "")
        # Later duplicates win, as in the original `dict(zip(merges, ranks))`.
        ranks = {merge: rank for rank, merge in enumerate(self.merges)}
        self.merge_ranks = _static_table(
            list(ranks), list(ranks.values()), NO_MERGE
        )
        # Eager calls run the merge loop as one graph (about 5x faster);
        # retraced here because the graph captures these tables.
        self._tokenize_graph = tf.function(
            self._tokenize_batch,
            input_signature=[tf.TensorSpec([None], tf.string)],
        )

    def _set_special_tokens(self):
        pad = self._id_to_token.get(self.unknown_token_id, UNKNOWN_TOKEN)
        named = {
            "start_token": START_TOKEN,
            "delimiter_token": DELIMITER_TOKEN,
            "extract_token": CLASSIFY_TOKEN,
            "end_token": CLASSIFY_TOKEN,
            "pad_token": pad,
        }
        self._special_token_attrs = list(named)
        for name, token in named.items():
            setattr(self, name, token)
            setattr(self, f"{name}_id", self.vocabulary.get(token, self.unknown_token_id))

    # === Vocabulary ===
    def _check_vocabulary(self):
        if self.vocabulary is None:
            raise GPT1InputError("the tokenizer has no vocabulary yet")

    def get_vocabulary(self):
        """Tokens in id order."""
        self._check_vocabulary()
        return [self._id_to_token[i] for i in sorted(self._id_to_token)]

    def vocabulary_size(self):
        """Number of ids, special tokens included (40,481 for GPT-1's)."""
        self._check_vocabulary()
        return max(self._id_to_token) + 1

    def id_to_token(self, id):
        self._check_vocabulary()
        if id not in self._id_to_token:
            raise GPT1InputError(f"token id {id} is not in the vocabulary")
        return self._id_to_token[id]

    def token_to_id(self, token):
        self._check_vocabulary()
        if token not in self.vocabulary:
            raise GPT1InputError(f"token {token!r} is not in the vocabulary")
        return self.vocabulary[token]

    # === Saved with the model ===
    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, VOCABULARY_ASSET), "w", encoding="utf-8") as f:
            json.dump(self.vocabulary, f, ensure_ascii=False)
        with open(os.path.join(dir_path, MERGES_ASSET), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for merge in self.merges:
                f.write(merge + "\n")

    def load_assets(self, dir_path):
        self.set_vocabulary_and_merges(
            read_vocabulary(os.path.join(dir_path, VOCABULARY_ASSET)),
            read_merges(os.path.join(dir_path, MERGES_ASSET)),
        )

    def save_to_directory(self, directory):
        """Write `vocab.json` and `merges.txt` into `directory`."""
        os.makedirs(directory, exist_ok=True)
        self.save_assets(directory)

    # === BPE ===
    def _merge_step(self, values, row_lengths, done):
        """Merge the best-ranked pair of each word (leftmost on ties)."""
        symbols = tf.RaggedTensor.from_row_lengths(values, row_lengths)
        pairs = tf.strings.join([symbols[:, :-1], symbols[:, 1:]], separator=" ")
        ranks = self.merge_ranks.lookup(pairs).to_tensor(default_value=NO_MERGE)
        # An extra column keeps argmin defined when every word is one symbol.
        ranks = tf.pad(ranks, [[0, 0], [0, 1]], constant_values=NO_MERGE)
        best = tf.argmin(ranks, axis=1, output_type=tf.int64)
        found = tf.reduce_min(ranks, axis=1) < NO_MERGE
        left = tf.boolean_mask(symbols.row_starts() + best, found)[:, None]
        merged = tf.strings.join(
            [tf.gather_nd(values, left), tf.gather_nd(values, left + 1)]
        )
        values = tf.tensor_scatter_nd_update(values, left, merged)
        keep = tf.tensor_scatter_nd_update(
            tf.ones_like(values, dtype=tf.bool),
            left + 1,
            tf.zeros_like(merged, dtype=tf.bool),
        )
        values = tf.boolean_mask(values, keep)
        row_lengths = row_lengths - tf.cast(found, row_lengths.dtype)
        return values, row_lengths, tf.logical_not(tf.reduce_any(found))

    def _bpe(self, words):
        """`(n,)` non-empty words -> ragged `(n, None)` BPE pieces."""
        symbols = tf.strings.unicode_split(words, "UTF-8")
        values = symbols.values
        last = (symbols.row_limits() - 1)[:, None]
        values = tf.tensor_scatter_nd_update(
            values, last, tf.strings.join([tf.gather_nd(values, last), END_OF_WORD])
        )
        values, row_lengths, _ = tf.while_loop(
            lambda values, row_lengths, done: tf.logical_not(done),
            self._merge_step,
            (values, symbols.row_lengths(), tf.constant(False)),
            shape_invariants=(
                tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([])
            ),
        )
        return tf.RaggedTensor.from_row_lengths(values, row_lengths)

    def _tokenize_batch(self, texts):
        """`(batch,)` strings -> ragged int `(batch, None)` ids."""
        words = bert_pre_tokenize(texts)
        # Each distinct word is merged once per batch.
        unique, index = tf.unique(words.flat_values)
        pieces = self._bpe(unique)
        ids = tf.ragged.map_flat_values(self.token_to_id_map.lookup, pieces)
        ids = tf.gather(ids, index)
        ids = tf.RaggedTensor.from_row_splits(
            ids.values, tf.gather(ids.row_splits, words.row_splits)
        )
        return tf.cast(ids, self.compute_dtype)

    def tokenize(self, inputs):
        self._check_vocabulary()
        with tf.device("cpu"):
            inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
            if inputs.shape.rank not in (0, 1):
                raise GPT1InputError(
                    f"tokenize takes a string or a list of strings; got rank "
                    f"{inputs.shape.rank}"
                )
            unbatched = inputs.shape.rank == 0
            ids = self._tokenize_graph(tf.reshape(inputs, [-1]))
            if self.sequence_length:
                ids = ids.to_tensor(
                    default_value=self.pad_token_id,
                    shape=[None, self.sequence_length],
                )
            if unbatched:
                ids = ids[0]
            return ids

    def detokenize(self, inputs):
        """Ids `(batch, None)` or `(tokens,)` -> text; `</w>` becomes a space
        and the last word's is dropped, as Hugging Face's BPE decoder does.
        An id outside the vocabulary raises `GPT1InputError`."""
        self._check_vocabulary()
        check_detokenize_input(inputs, self.vocabulary_size())
        with tf.device("cpu"):
            if isinstance(inputs, tf.RaggedTensor):
                ids = inputs
            else:
                ids = tf.ragged.constant(inputs) if isinstance(inputs, list) \
                    else tf.convert_to_tensor(inputs)
            unbatched = ids.shape.rank == 1
            if unbatched:
                ids = ids[None]
            tokens = self.id_to_token_map.lookup(tf.cast(ids, tf.int32))
            text = tf.strings.reduce_join(tokens, axis=-1)
            text = tf.strings.regex_replace(text, END_OF_WORD, " ")
            text = tf.strings.regex_replace(text, " $", "")
            return text[0] if unbatched else text

    def call(self, inputs, *args, training=None, **kwargs):
        return self.tokenize(inputs, *args, **kwargs)

    def compute_output_spec(self, input_spec):
        return keras.KerasTensor(
            input_spec.shape + (self.sequence_length,), dtype=self.compute_dtype
        )

    def get_config(self):
        config = super().get_config()
        config["sequence_length"] = self.sequence_length
        return config


def _static_table(keys, values, default):
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys), tf.constant(values)
        ),
        default_value=default,
    )
