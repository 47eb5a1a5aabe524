"""The project's BPE tokenizer: keras-hub's in-graph byte-level BPE plus the
special tokens GPT-1 fine-tuning and generation need.

With TensorFlow Text installed it always runs as TF ops (in tf.data,
SavedModels and eagerly alike). Without it (JAX or PyTorch machines) the
same class runs keras-hub's Python path on Hugging Face `tokenizers` (ids
and decoded text tested equal to the TF ops'), so `generate` takes and
returns text there too."""

import json
import os

import keras
from keras_hub.tokenizers import BytePairTokenizer

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.keras_internals import internal
from keras_gpt1.token_ids import check_detokenize_input

PAD_TOKEN = "<|pad|>"
END_TOKEN = "<|endoftext|>"
# The paper's randomly initialised start (s), delimiter ($), extract (e).
START_TOKEN = "<|start|>"
DELIMITER_TOKEN = "<|delimiter|>"
EXTRACT_TOKEN = "<|extract|>"
SPECIAL_TOKENS = (PAD_TOKEN, END_TOKEN, START_TOKEN, DELIMITER_TOKEN, EXTRACT_TOKEN)

VOCABULARY_FILE = "vocabulary.json"
MERGES_FILE = "merges.txt"


def tensorflow_text_available():
    """Whether TensorFlow and TensorFlow Text import here."""
    try:
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401
    except ImportError:
        return False
    return True


def _byte_decoder():
    """GPT-2's byte-level alphabet, unicode character -> byte."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes, n = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, codes, strict=True)}


BYTE_DECODER = _byte_decoder()


def _bytes_of(inverse, ids):
    """The bytes a row of ids stands for (special tokens as their text)."""
    out = bytearray()
    for i in ids:
        token = inverse[int(i)]
        if token in SPECIAL_TOKENS:
            out += token.encode("utf-8")
        else:
            out += bytes(BYTE_DECODER[c] for c in token)
    return bytes(out)


def _id_rows(inputs):
    """`(rows of ids, batched)` from an int, a list, a list of lists or an
    array (keras-hub's rules for `detokenize`)."""
    import numpy as np

    if isinstance(inputs, (list, tuple)) and inputs and not isinstance(
            inputs[0], (int, np.integer)):
        return [np.asarray(r).reshape(-1).tolist() for r in inputs], True
    array = np.asarray(keras.ops.convert_to_numpy(inputs)
                       if keras.ops.is_tensor(inputs) else inputs)
    if array.ndim <= 1:
        return [array.reshape(-1).tolist()], False
    return [r.tolist() for r in array], True


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1Tokenizer(BytePairTokenizer):
    """Byte-level BPE (TF ops, so it runs in tf.data and SavedModels).

    Each special token is a single id and is never split: `pad_token_id`,
    `end_token_id`, `start_token_id`, `delimiter_token_id`,
    `extract_token_id`. Strings in, ragged int32 ids out; `detokenize`
    goes back.

    Example:
    ```python
    tokenizer = GPT1Tokenizer.from_files("vocabulary.json", "merges.txt")
    tokenizer(["a cat<|endoftext|>"])
    ```
    """

    def __init__(self, vocabulary=None, merges=None, **kwargs):
        self._add_special_token(PAD_TOKEN, "pad_token")
        self._add_special_token(END_TOKEN, "end_token")
        self._add_special_token(START_TOKEN, "start_token")
        self._add_special_token(DELIMITER_TOKEN, "delimiter_token")
        self._add_special_token(EXTRACT_TOKEN, "extract_token")
        kwargs.setdefault("unsplittable_tokens", list(SPECIAL_TOKENS))
        # With TensorFlow Text, always the TF path (eager, tf.data and
        # SavedModel ids agree, whatever keras-hub's Python path does);
        # without it, keras-hub's Python path (Hugging Face `tokenizers`;
        # ids tested equal to the TF path's).
        kwargs["_allow_python_workflow"] = not tensorflow_text_available()
        super().__init__(vocabulary=vocabulary, merges=merges, **kwargs)

    def _detokenize_tokenizers(self, inputs):
        # keras-hub's Python path decodes incomplete UTF-8 to U+FFFD; as its
        # TF path: bytes, incomplete UTF-8 left to the caller to drop.
        internal("hub_bpe_python_detokenize")  # what this overrides
        rows, batched = _id_rows(inputs)
        if getattr(self, "_id_to_token", None) is None:
            self._id_to_token = {int(i): t for t, i in self.vocabulary.items()}
        out = [_bytes_of(self._id_to_token, row) for row in rows]
        return out if batched else out[0]

    def detokenize(self, inputs):
        """Ids -> text; `GPT1InputError` for an id outside the vocabulary."""
        check_detokenize_input(inputs, self.vocabulary_size())
        return super().detokenize(inputs)

    @classmethod
    def from_files(cls, vocabulary_path, merges_path, **kwargs):
        """Load `vocabulary.json` and `merges.txt` (our own, trusted files)."""
        for path in (vocabulary_path, merges_path):
            if not os.path.isfile(path):
                raise GPT1InputError(f"tokenizer file not found: {path}")
        with open(vocabulary_path, encoding="utf-8") as f:
            vocabulary = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            merges = [line.rstrip("\n") for line in f]
        merges = [m for m in merges if m and not m.startswith("#version")]
        missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
        if missing:
            raise GPT1InputError(
                f"{vocabulary_path} lacks the special tokens {missing}"
            )
        return cls(vocabulary=vocabulary, merges=merges, **kwargs)

    @classmethod
    def from_directory(cls, directory, **kwargs):
        return cls.from_files(
            os.path.join(directory, VOCABULARY_FILE),
            os.path.join(directory, MERGES_FILE),
            **kwargs,
        )

    def save_to_directory(self, directory):
        """Write `vocabulary.json` and `merges.txt` into `directory`."""
        os.makedirs(directory, exist_ok=True)
        self.save_assets(directory)
