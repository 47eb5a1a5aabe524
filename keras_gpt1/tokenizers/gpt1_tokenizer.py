"""The project's BPE tokenizer: keras-hub's in-graph byte-level BPE plus the
special tokens GPT-1 fine-tuning and generation need."""

import json
import os

import keras
from keras_hub.tokenizers import BytePairTokenizer

from keras_gpt1.errors import GPT1InputError
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
        # keras-hub's eager Python path pre-splits text differently from its
        # TF path; always use the TF path so eager, tf.data and SavedModel
        # ids agree.
        kwargs.setdefault("_allow_python_workflow", False)
        super().__init__(vocabulary=vocabulary, merges=merges, **kwargs)

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
