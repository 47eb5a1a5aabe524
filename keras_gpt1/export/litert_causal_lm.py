"""Run a LiteRT causal-LM bundle: tokenize in Python, `prefill` the
prompt, then `decode` one token at a time, sampling (greedy) outside the
graph. This is what an Android/iOS app does, in Python.

Example:
```python
lm = LiteRTCausalLM("gpt1-litert/model.tflite")
lm.generate("The cat", max_new_tokens=16)
```
"""

import numpy as np

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.causal_lm_litert_module import DECODE_SIGNATURE
from keras_gpt1.export.causal_lm_litert_module import INPUT_POS
from keras_gpt1.export.causal_lm_litert_module import LOGITS
from keras_gpt1.export.causal_lm_litert_module import PADDING_POSITION
from keras_gpt1.export.causal_lm_litert_module import PREFILL_SIGNATURE
from keras_gpt1.export.causal_lm_litert_module import TOKENS
from keras_gpt1.export.causal_lm_litert_module import key_cache_name
from keras_gpt1.export.causal_lm_litert_module import value_cache_name
from keras_gpt1.export.litert_bundle import load_bundle_tokenizer
from keras_gpt1.export.litert_bundle import read_bundle_config
from keras_gpt1.export.litert_interpreter import make_interpreter

CAUSAL_LM_TASK = "causal_lm"


class LiteRTCausalLM:
    """A `.tflite` causal LM with `prefill` / `decode` signatures.

    Args:
        tflite_path: `model.tflite` of a bundle written by `export_litert`
            (`litert_config.json` and the tokenizer files beside it).
        num_threads: interpreter threads (default: the runtime's).
    """

    def __init__(self, tflite_path, num_threads=None):
        config = read_bundle_config(tflite_path)
        if config.get("task") != CAUSAL_LM_TASK:
            raise GPT1InputError(
                f"{tflite_path} is a '{config.get('task')}' model, not a "
                f"causal language model"
            )
        self.config = config
        self.interpreter = make_interpreter(tflite_path, num_threads)
        self._prefill = self.interpreter.get_signature_runner(PREFILL_SIGNATURE)
        self._decode = self.interpreter.get_signature_runner(DECODE_SIGNATURE)
        self.tflite_path = tflite_path
        self._tokenizer = None
        self.max_length = config["max_length"]
        self.prefill_length = config["prefill_length"]
        self.num_layers = config["num_layers"]
        self.cache_shape = tuple(config["cache_shape"])
        self.pad_token_id = config["pad_token_id"] or 0
        self.end_token_id = config["end_token_id"]
        self.vocabulary_size = config["vocabulary_size"]

    @property
    def tokenizer(self):
        """The tokenizer of the files beside the `.tflite` (loaded on use)."""
        if self._tokenizer is None:
            self._tokenizer = load_bundle_tokenizer(self.tflite_path, self.config)
        return self._tokenizer

    # === Signatures ===
    def initial_cache(self):
        """Zero caches, `{kv_cache_k_i / kv_cache_v_i: (1, max_length,
        heads, head_dim)}`."""
        cache = {}
        for i in range(self.num_layers):
            cache[key_cache_name(i)] = np.zeros(self.cache_shape, "float32")
            cache[value_cache_name(i)] = np.zeros(self.cache_shape, "float32")
        return cache

    @staticmethod
    def _split(outputs):
        logits = outputs.pop(LOGITS)
        return logits[0, 0], outputs

    def check_token_ids(self, token_ids):
        """Raise `GPT1InputError` for an id outside `[0, vocabulary_size)`:
        the `.tflite` would fail on a large id and read some other row for
        a negative one."""
        ids = np.asarray(token_ids).reshape(-1)
        bad = ids[(ids < 0) | (ids >= self.vocabulary_size)]
        if bad.size:
            raise GPT1InputError(
                f"token id {int(bad[0])} is out of range [0, {self.vocabulary_size})"
            )

    def decode(self, token_id, position, cache):
        """One token at `position` -> `(logits (vocab,), cache)`."""
        self.check_token_ids(token_id)
        return self._split(
            self._decode(
                **{
                    TOKENS: np.array([[token_id]], "int32"),
                    INPUT_POS: np.array([position], "int32"),
                },
                **cache,
            )
        )

    def prefill(self, token_ids, cache=None):
        """Write the keys/values of `token_ids` (the prompt, from position
        0) into the cache -> `(logits after the last token (vocab,), cache)`.

        Chunks of `prefill_length` go through `prefill`; a last token alone,
        or a chunk that would run past `max_length` once padded, goes
        through `decode` token by token.
        """
        token_ids = np.asarray(token_ids).reshape(-1)
        self._check_prompt_length(len(token_ids))
        self.check_token_ids(token_ids)
        token_ids = token_ids.astype("int32")
        cache = self.initial_cache() if cache is None else cache
        position, logits = 0, None
        while position < len(token_ids):
            count = min(self.prefill_length, len(token_ids) - position)
            if count > 1 and position + self.prefill_length <= self.max_length:
                tokens = np.full((1, self.prefill_length), self.pad_token_id, "int32")
                tokens[0, :count] = token_ids[position : position + count]
                input_pos = np.full((self.prefill_length,), PADDING_POSITION, "int32")
                input_pos[:count] = np.arange(position, position + count)
                logits, cache = self._split(
                    self._prefill(**{TOKENS: tokens, INPUT_POS: input_pos}, **cache)
                )
            else:
                count = 1
                logits, cache = self.decode(token_ids[position], position, cache)
            position += count
        return logits, cache

    def _check_prompt_length(self, length):
        if length == 0:
            raise GPT1InputError("prompt is empty")
        if length >= self.max_length:
            raise GPT1InputError(
                f"prompt of {length} tokens leaves no room in the exported "
                f"maximum length of {self.max_length}"
            )

    # === Generation ===
    def generate_ids(self, prompt_ids, max_new_tokens=32, stop_at_end=True):
        """Greedy continuation: int32 `(prompt + new,)`, cut before the end
        token when `stop_at_end`; at most `max_length` tokens in all."""
        if max_new_tokens < 1:
            raise GPT1InputError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
        ids = [int(i) for i in np.asarray(prompt_ids).reshape(-1)]
        logits, cache = self.prefill(ids)
        total = min(len(ids) + max_new_tokens, self.max_length)
        while True:
            next_id = int(np.argmax(logits))
            if stop_at_end and self.end_token_id is not None and (
                next_id == self.end_token_id
            ):
                break
            ids.append(next_id)
            if len(ids) >= total:
                break
            logits, cache = self.decode(next_id, len(ids) - 1, cache)
        return np.array(ids, "int32")

    def tokenize(self, text):
        from keras_gpt1.models.gpt1_causal_lm import _tokenize

        return np.asarray(_tokenize(self.tokenizer, [text])[0], "int32")

    def detokenize(self, token_ids):
        from keras_gpt1.models.gpt1_causal_lm import _detokenize

        return _detokenize(self.tokenizer, token_ids)

    def generate(self, prompt, max_new_tokens=32, stop_at_end=True):
        """The prompt string followed by its greedy continuation."""
        if not isinstance(prompt, str) or not prompt:
            raise GPT1InputError("prompt is empty")
        ids = self.generate_ids(self.tokenize(prompt), max_new_tokens, stop_at_end)
        return self.detokenize(ids)
