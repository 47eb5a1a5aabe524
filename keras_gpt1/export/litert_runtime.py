"""Run LiteRT bundles from Python, as an app would: open the `.tflite`
with the LiteRT runtime, tokenize outside the graph, call the signatures.

- `LiteRTCausalLM`: `prefill` the prompt, then `decode` one token at a
  time, sampling (greedy) outside the graph.
- `LiteRTTaskModel`: tokenize and transform the texts (the same in-graph
  transformations as training), then run `serving_default`.

Example:
```python
lm = LiteRTCausalLM("gpt1-litert/model.tflite")
lm.generate("The cat", max_new_tokens=16)
classifier = LiteRTTaskModel("sst2-litert/model.tflite")
classifier.run([["a gripping film", "dull"]])["probabilities"]  # (2, 2)
```
"""

import os

import numpy as np
import tensorflow as tf

from keras_gpt1.data.task_transforms import task_inputs
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line
from keras_gpt1.export.litert_bundle import load_bundle_tokenizer
from keras_gpt1.export.litert_bundle import read_bundle_config
from keras_gpt1.export.litert_cache_runner import cache_runner
from keras_gpt1.export.litert_cache_runner import make_interpreter
from keras_gpt1.export.signatures import CAUSAL_LM_TASK
from keras_gpt1.export.signatures import DECODE_SIGNATURE
from keras_gpt1.export.signatures import PADDING_POSITION
from keras_gpt1.export.signatures import PREFILL_SIGNATURE
from keras_gpt1.export.signatures import SERVING_DEFAULT
from keras_gpt1.export.signatures import cache_names
from keras_gpt1.tasks import MULTIPLE_CHOICE
from keras_gpt1.token_ids import check_token_ids
from keras_gpt1.token_ids import detokenize_text
from keras_gpt1.token_ids import token_id_lists


class LiteRTCausalLM:
    """A `.tflite` causal LM with `prefill` / `decode` signatures.

    Args:
        tflite_path: `model.tflite` of a bundle written by `export_litert`
            (`litert_config.json` and the tokenizer files beside it).
        num_threads: CPU threads (default: the runtime's).
        runtime: `"compiled_model"` (the default where `ai-edge-litert` has
            it: the KV cache stays in the runtime's buffers, updated in
            place) or `"interpreter"` (the cache goes in and out of every
            call as NumPy arrays); see `litert_cache_runner.py`.

    A cache (`initial_cache()`, or the one `prefill` / `decode` return) is
    updated in place by the calls it is given to with the compiled model:
    keep a copy (`{name: cache[name] for name in cache}`) to branch.
    """

    def __init__(self, tflite_path, num_threads=None, runtime=None):
        config = read_bundle_config(tflite_path)
        self._setup(tflite_path, config, num_threads, runtime)
        self.tflite_path = tflite_path

    @classmethod
    def from_model(cls, model, config, tokenizer=None, num_threads=None, runtime=None):
        """A runner of `model` (`.tflite` bytes or path) that `config` (what
        `litert_config.json` holds) describes, with no bundle directory."""
        runner = cls.__new__(cls)
        runner._setup(model, config, num_threads, runtime)
        runner.tflite_path = None if isinstance(model, bytes) else model
        runner._tokenizer = tokenizer
        return runner

    def _setup(self, model, config, num_threads, runtime):
        if config.get("task") != CAUSAL_LM_TASK:
            raise GPT1InputError(
                f"{model if isinstance(model, str) else 'the model'} is a "
                f"'{config.get('task')}' model, not a causal language model"
            )
        self.config = config
        self._tokenizer = None
        self.max_length = config["max_length"]
        self.prefill_length = config["prefill_length"]
        self.num_layers = config["num_layers"]
        self.cache_shape = tuple(config["cache_shape"])
        self.pad_token_id = config["pad_token_id"] or 0
        self.end_token_id = config["end_token_id"]
        self.vocabulary_size = config["vocabulary_size"]
        self._runner = cache_runner(model, self.cache_shape, cache_names(self.num_layers),
                                    num_threads, runtime)
        self.runtime = self._runner.runtime

    @property
    def tokenizer(self):
        """The tokenizer of the files beside the `.tflite` (loaded on use)."""
        if self._tokenizer is None:
            self._tokenizer = load_bundle_tokenizer(self.tflite_path, self.config)
        return self._tokenizer

    def close(self):
        """Release the runtime (the runner is unusable afterwards)."""
        self._runner.close()

    # === Signatures ===
    def initial_cache(self):
        """Zero caches, `{kv_cache_k_i / kv_cache_v_i: (1, max_length,
        heads, head_dim)}` (reading an entry of a compiled-model cache
        copies it)."""
        return self._runner.initial_cache()

    def check_token_ids(self, token_ids):
        """Raise `GPT1InputError` for an id outside `[0, vocabulary_size)`:
        the `.tflite` would fail on a large id and read some other row for
        a negative one."""
        check_token_ids(token_ids, self.vocabulary_size)

    def decode(self, token_id, position, cache):
        """One token at `position` -> `(logits (vocab,), cache)`."""
        self.check_token_ids(token_id)
        return self._runner.run(DECODE_SIGNATURE, np.array([[token_id]], "int32"),
                                np.array([position], "int32"), cache)

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
                logits, cache = self._runner.run(PREFILL_SIGNATURE, tokens, input_pos,
                                                 cache)
            else:
                count = 1
                logits, cache = self.decode(token_ids[position], position, cache)
            position += count
        return logits, cache

    def logits_along(self, token_ids, prompt_length):
        """Logits after each position from `prompt_length - 1` on, feeding
        `token_ids` itself (teacher forcing): `(len(token_ids) -
        prompt_length + 1, vocab)`; row `i` predicts `token_ids[prompt_length
        + i]`."""
        token_ids = [int(i) for i in np.asarray(token_ids).reshape(-1)]
        logits, cache = self.prefill(token_ids[:prompt_length])
        rows = [logits]
        for position in range(prompt_length, len(token_ids)):
            logits, cache = self.decode(token_ids[position], position, cache)
            rows.append(logits)
        return np.stack(rows)

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
        return np.asarray(token_id_lists(self.tokenizer, [text])[0], "int32")

    def detokenize(self, token_ids):
        return detokenize_text(self.tokenizer, token_ids)

    def generate(self, prompt, max_new_tokens=32, stop_at_end=True):
        """The prompt string followed by its greedy continuation."""
        if not isinstance(prompt, str) or not prompt:
            raise GPT1InputError("prompt is empty")
        ids = self.generate_ids(self.tokenize(prompt), max_new_tokens, stop_at_end)
        return self.detokenize(ids)


class LiteRTTaskModel:
    """A `.tflite` task model with its tokenizer and config beside it."""

    def __init__(self, tflite_path, num_threads=None):
        config = read_bundle_config(tflite_path)
        if "label_kind" not in config:
            raise GPT1InputError(f"{tflite_path} is not a fine-tuned task model")
        self.config = config
        self.task = config["task"]
        self.label_names = config.get("label_names")
        self.tokenizer = load_bundle_tokenizer(tflite_path, config)
        self.interpreter = make_interpreter(tflite_path, num_threads)
        self._run = self.interpreter.get_signature_runner(SERVING_DEFAULT)

    def inputs(self, texts, answers=None):
        """`texts`: one list of strings per text input of the task;
        `answers`: multiple choice, `(batch, num_choices)` strings. Returns
        the int32 `token_ids` / `padding_mask` arrays the `.tflite` reads."""
        if len(texts) != len(self.config["text_inputs"]):
            raise GPT1InputError(
                f"task '{self.task}' reads {len(self.config['text_inputs'])} "
                f"texts ({', '.join(self.config['text_inputs'])}); got {len(texts)}"
            )
        if self.task == MULTIPLE_CHOICE and answers is None:
            raise GPT1InputError("multiple choice needs answers")
        inputs = task_inputs(
            self.task,
            [tf.constant(list(t), tf.string) for t in texts],
            self.tokenizer,
            self.config["max_length"],
            None if answers is None else tf.constant(answers, tf.string),
        )
        return {k: np.asarray(v, "int32") for k, v in inputs.items()}

    def run(self, texts, answers=None):
        """The `.tflite`'s outputs (`logits`, `probabilities` or `score`)."""
        return self._run(**self.inputs(texts, answers))


class LiteRTLMCausalLM:
    """A `.litertlm` run by Google's LiteRT-LM runtime through its Python
    API (`litert_lm`): the runtime tokenizes, prefills, decodes and samples,
    holding the KV cache in place, as an app embedding it does.

    Args:
        path: a `.litertlm` written by `export --format litertlm`.
        num_threads: CPU threads of the runtime (default 1).

    Example:
    ```python
    lm = LiteRTLMCausalLM("gpt1.litertlm")
    lm.generate("The cat", max_new_tokens=16)                  # greedy
    lm.generate("The cat", sampler="top_p", top_p=0.9, seed=1)
    ```
    """

    SAMPLERS = ("greedy", "top_k", "top_p")

    def __init__(self, path, num_threads=1):
        if not os.path.isfile(path):
            raise GPT1InputError(f"model not found: {path}")
        try:
            import litert_lm
        except ImportError:
            raise GPT1InputError(
                "running a .litertlm needs LiteRT-LM: pip install litert-lm "
                "(or keras-gpt1[litertlm])"
            ) from None
        self.path = path
        self.metadata = read_litertlm_system_metadata(path)
        self.vocabulary_size = int(self.metadata.get("keras_gpt1_vocabulary_size", 0))
        litert_lm.set_min_log_severity(litert_lm.LogSeverity.ERROR)
        self._litert_lm = litert_lm
        try:
            self.engine = litert_lm.Engine(
                path, backend=litert_lm.Backend.CPU(thread_count=num_threads),
                enable_benchmark=True, cache_dir=":nocache",
            )
        except (RuntimeError, ValueError) as e:
            raise GPT1InputError(f"could not load {path}: {first_line(e)}") from None
        self.max_length = int(litert_lm.ModelInfo(path).max_context_tokens)
        self.last_benchmark = None

    def tokenize(self, text):
        """The runtime's ids of `text` (those of the model's tokenizer)."""
        return list(self.engine.tokenize(text))

    def sampler_config(self, sampler="greedy", temperature=1.0, top_k=10, top_p=0.9,
                       seed=None):
        """`litert_lm.SamplerConfig` of a sampler name. LiteRT-LM's CPU
        sampler is top-p over the top k: greedy is k = 1, top-p keeps every
        token (k = the vocabulary)."""
        config = self._litert_lm.SamplerConfig
        seed = 0 if seed is None else int(seed)
        if sampler == "greedy":
            return config(top_k=1, top_p=1.0, temperature=1.0, seed=seed)
        if sampler == "top_k":
            return config(top_k=int(top_k), top_p=1.0, temperature=float(temperature),
                          seed=seed)
        if sampler == "top_p":
            return config(top_k=max(self.vocabulary_size, 1), top_p=float(top_p),
                          temperature=float(temperature), seed=seed)
        raise GPT1InputError(
            f"LiteRT-LM samples with {', '.join(self.SAMPLERS)}; got sampler '{sampler}'"
        )

    def generate(self, prompt, max_new_tokens=32, sampler="greedy", strip_prompt=False,
                 **sampler_args):
        """The prompt followed by its continuation (text; only the
        continuation with `strip_prompt`). The runtime stops at the end
        token or at the end of the cache."""
        if not isinstance(prompt, str) or not prompt:
            raise GPT1InputError("prompt is empty")
        if max_new_tokens < 1:
            raise GPT1InputError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
        length = len(self.tokenize(prompt))
        if length >= self.max_length:
            raise GPT1InputError(
                f"prompt of {length} tokens leaves no room in the exported maximum "
                f"length of {self.max_length}"
            )
        session = self.engine.create_session(
            apply_prompt_template=False, max_output_tokens=int(max_new_tokens),
            sampler_config=self.sampler_config(sampler, **sampler_args),
        )
        try:
            session.run_prefill([prompt])
            completion = session.run_decode().texts[0]
            self.last_benchmark = session.get_benchmark_info()
        finally:
            session.close()
        return completion if strip_prompt else prompt + completion


def read_litertlm_system_metadata(path):
    """`{key: value}` of a `.litertlm`'s system metadata (where export
    records the vocabulary size, tokenizer and quantization)."""
    import io

    from litert_lm_builder.litertlm_peek import kvp_to_dict
    from litert_lm_builder.litertlm_peek import read_litertlm_header

    try:
        header = read_litertlm_header(path, io.StringIO())
    except (ValueError, OSError) as e:
        raise GPT1InputError(f"{path} is not a .litertlm file: {first_line(e)}") from None
    entries = header.SystemMetadata()
    values = {}
    for i in range(entries.EntriesLength() if entries else 0):
        entry = kvp_to_dict(entries.Entries(i))
        values[entry["key"]] = entry["value"]
    return values


def greedy_agreement(runner, causal_lm, prompt_ids, max_new_tokens):
    """How closely `runner` (a `LiteRTCausalLM`) follows `causal_lm`'s greedy
    continuation of `prompt_ids`, judged along Keras's own tokens.

    Returns a dict: `max_logit_difference` (over every step), `steps`,
    `same_token_steps` (steps where both pick the same token) and `agrees`:
    every step where they pick differently is a near tie in Keras's logits
    (top-2 margin within twice the largest logit difference), so only
    float rounding separates them.
    """
    ids = causal_lm.generate([np.asarray(prompt_ids, "int32")],
                             max_new_tokens=max_new_tokens, stop_at_end=False)[0]
    prompt_length = len(prompt_ids)
    expected = np.asarray(causal_lm(ids[None]))[0, prompt_length - 1 : len(ids) - 1]
    got = runner.logits_along(ids[:-1], prompt_length)
    difference = float(np.abs(got - expected).max())
    top2 = np.sort(expected, axis=-1)[:, -2:]
    margins = top2[:, 1] - top2[:, 0]
    differ = np.argmax(got, -1) != ids[prompt_length:]
    return {
        "max_logit_difference": difference,
        "steps": int(len(differ)),
        "same_token_steps": int((~differ).sum()),
        "agrees": bool(np.all(margins[differ] <= 2 * difference)),
    }
