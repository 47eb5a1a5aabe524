"""keras-gpt1 as a model of EleutherAI's lm-evaluation-harness (`lm-eval`
0.4, `pip install keras-gpt1[eval]`): `KerasGPT1LM`, registered under the
name "keras-gpt1" when this module is imported.

```python
import lm_eval
import keras_gpt1.evaluation.lm_eval_model  # registers "keras-gpt1"

lm_eval.simple_evaluate(model="keras-gpt1", model_args="model=runs/lm",
                        tasks=["lambada_openai"])
lm_eval.simple_evaluate(model=KerasGPT1LM(model="runs/lm"), tasks=[...])
```

The three request types follow the harness's Hugging Face model (`hf`,
`lm_eval/models/huggingface.py`) step by step, so the two give the same
numbers on the same weights (`export --format transformers`):

- `loglikelihood`: the harness's own tokenization split (`TemplateLM`:
  trailing spaces of the context move to the continuation; the pair is
  encoded whole, then split; an empty context becomes the prefix token),
  then `TokenScorer` (left truncation to `max_length`, float32
  log-softmax over the whole vocabulary, greedy flag);
- `loglikelihood_rolling`: `rolling_windows` with the harness's stride of
  `max_length` (GPT-1: 512), each document's windows summed;
- `generate_until`: the context left-truncated to `max_length -
  max_gen_toks` tokens, decoded by the model's own compiled `generate`
  (KV cache; greedy unless `do_sample`), cut at the first stop string.

Model arguments (`--model_args` / `model_args=`): `model` (or `pretrained`,
the `hf` model's name for it): a model directory, `.keras` file, preset or
Hugging Face `openai-gpt` checkpoint (`load_causal_lm`); `batch_size`
(default 8); `max_length` (default the model's context); `prefix_token_id`
(default in `prefix_token.py`: `<unk>` = 0 for GPT-1's tokenizer,
`<|endoftext|>` for this project's); `max_gen_toks` (default 256, the
harness's). `device` is accepted and ignored: Keras places the model.
"""

# The harness fills its model registry by importing `lm_eval.models` only
# when the registry is empty; registering "keras-gpt1" first would leave
# "hf" and every other built-in model unknown. Import them first.
import lm_eval.models  # noqa: F401
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import handle_stop_sequences
from lm_eval.models.utils import normalize_gen_kwargs
from lm_eval.models.utils import postprocess_generated_text
from tqdm import tqdm

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.evaluation.model_loading import load_causal_lm
from keras_gpt1.evaluation.prefix_token import end_of_text_token_id
from keras_gpt1.evaluation.prefix_token import resolve_prefix_token_id
from keras_gpt1.evaluation.rolling_windows import rolling_windows
from keras_gpt1.evaluation.text_generation import generate_continuations
from keras_gpt1.evaluation.text_generation import text_decoder
from keras_gpt1.evaluation.token_scorer import TokenScorer

MODEL_NAME = "keras-gpt1"
DEFAULT_BATCH_SIZE = 8
# The harness's default for generate_until (HFLM.max_gen_toks).
DEFAULT_MAX_GEN_TOKS = 256
# Strings tokenized per call of the in-graph tokenizer.
TOKENIZE_CHUNK = 1024


def _as_int(value, name):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise GPT1InputError(f"{name} must be an integer; got {value!r}") from None


@register_model(MODEL_NAME)
class KerasGPT1LM(TemplateLM):
    """An lm-evaluation-harness model over a `GPT1CausalLM` (module
    docstring for the arguments and the rules)."""

    def __init__(self, model=None, pretrained=None, batch_size=DEFAULT_BATCH_SIZE,
                 max_length=None, prefix_token_id=None,
                 max_gen_toks=DEFAULT_MAX_GEN_TOKS, device=None, max_batch_size=None,
                 **unknown):
        super().__init__()
        if unknown:
            raise GPT1InputError(
                f"unknown model argument(s) for {MODEL_NAME}: {', '.join(sorted(unknown))} "
                "(known: model, batch_size, max_length, prefix_token_id, max_gen_toks)"
            )
        if (model is None) == (pretrained is None):
            raise GPT1InputError(f"give {MODEL_NAME} one of model=PATH or pretrained=PATH")
        self.model_name = str(model if model is not None else pretrained)
        self.lm = load_causal_lm(model if model is not None else pretrained)
        self.tokenizer = self.lm.tokenizer
        # "auto" (the harness's batch-size search) takes the default.
        if batch_size is None or str(batch_size).startswith("auto"):
            batch_size = DEFAULT_BATCH_SIZE
        self.scorer = TokenScorer(
            self.lm, None if max_length is None else _as_int(max_length, "max_length"),
            _as_int(batch_size, "batch_size"))
        vocabulary_size = self.lm.backbone.vocabulary_size
        self._prefix_token_id = resolve_prefix_token_id(
            self.tokenizer, vocabulary_size,
            None if prefix_token_id is None else _as_int(prefix_token_id, "prefix_token_id"))
        self._eot_token_id = end_of_text_token_id(self.tokenizer)
        self._max_gen_toks = _as_int(max_gen_toks, "max_gen_toks")
        self._decode_generated = text_decoder(self.tokenizer)
        self._token_cache = {}

    # === What the harness reads ===
    @property
    def eot_token_id(self):
        return self._eot_token_id

    @property
    def prefix_token_id(self):
        return self._prefix_token_id

    @property
    def max_length(self):
        return self.scorer.max_length

    @property
    def max_gen_toks(self):
        return self._max_gen_toks

    @property
    def batch_size(self):
        return self.scorer.batch_size

    @property
    def tokenizer_name(self):
        return type(self.tokenizer).__name__

    def get_model_info(self):
        return {"model": self.model_name,
                "parameters": int(self.lm.backbone.count_params()),
                "prefix_token_id": self.prefix_token_id,
                "max_length": self.max_length}

    # === Tokens ===
    def tok_encode(self, string, add_special_tokens=None, left_truncate_len=None,
                   **kwargs):
        """Ids of `string` (the model's tokenizer adds no special token)."""
        if not string:
            return []
        if string not in self._token_cache:
            self._tokenize_all([string])
        ids = self._token_cache[string]
        return ids[-left_truncate_len:] if left_truncate_len else list(ids)

    def tok_decode(self, ids):
        """Text of `ids`, special tokens included (generated text drops
        them: `text_decoder`)."""
        from keras_gpt1.token_ids import detokenize_text

        return detokenize_text(self.tokenizer, list(ids))

    def _tokenize_all(self, strings):
        """Fill the token cache for `strings`, many per tokenizer call (one
        call per string is the slow part of a run on a small model)."""
        from keras_gpt1.token_ids import token_id_lists

        new = sorted({s for s in strings if s and s not in self._token_cache})
        for start in range(0, len(new), TOKENIZE_CHUNK):
            chunk = new[start:start + TOKENIZE_CHUNK]
            self._token_cache.update(zip(chunk, token_id_lists(self.tokenizer, chunk)))

    def _with_tokens(self, strings, work):
        """`work()` with the ids of `strings` cached, then forgotten."""
        self._tokenize_all(strings)
        try:
            return work()
        finally:
            self._token_cache.clear()

    # === Requests ===
    def loglikelihood(self, requests, disable_tqdm=False):
        def texts():
            for context, continuation in (r.args for r in requests):
                yield context + continuation
                yield context.rstrip()  # the harness encodes both (_encode_pair)
                yield continuation
        return self._with_tokens(
            texts(), lambda: super(KerasGPT1LM, self).loglikelihood(requests, disable_tqdm))

    def _loglikelihood_tokens(self, requests, disable_tqdm=False, **kwargs):
        """`[(log p, is_greedy), ...]` of `(cache key, context ids,
        continuation ids)` requests."""
        with tqdm(total=len(requests), disable=disable_tqdm,
                  desc="keras-gpt1 loglikelihood") as bar:
            results = self.scorer.score([(c, x) for _, c, x in requests], bar.update)
        for (key, _, _), result in zip(requests, results):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, result)
        return results

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        """Each text's total log-likelihood over its rolling windows."""
        strings = [r.args[0] for r in requests]

        def work():
            windows, owners = [], []
            for i, string in enumerate(strings):
                for window in rolling_windows(self.tok_encode(string), self.prefix_token_id,
                                              self.max_length):
                    windows.append(window)
                    owners.append(i)
            with tqdm(total=len(windows), disable=disable_tqdm,
                      desc="keras-gpt1 loglikelihood_rolling (windows)") as bar:
                scores = self.scorer.score(windows, bar.update)
            totals = [0.0] * len(strings)
            for i, (log_likelihood, _) in zip(owners, scores):
                totals[i] += log_likelihood
            for string, total in zip(strings, totals):
                self.cache_hook.add_partial("loglikelihood_rolling", (string,), total)
            return totals

        return self._with_tokens(strings, work)

    def generate_until(self, requests, disable_tqdm=False):
        """Each context's continuation, cut at the first stop string (the
        request's `until` and the end token's text)."""
        arguments = [r.args for r in requests]
        return self._with_tokens(
            (context for context, _ in arguments),
            lambda: self._generate(arguments, disable_tqdm))

    def _generate(self, arguments, disable_tqdm):
        groups = {}  # requests with equal generation arguments decode together
        for i, (_, gen_kwargs) in enumerate(arguments):
            groups.setdefault(repr(sorted(gen_kwargs.items())), []).append(i)
        end_text = self.tok_decode([self.eot_token_id])
        results = [None] * len(arguments)
        with tqdm(total=len(arguments), disable=disable_tqdm,
                  desc="keras-gpt1 generate_until") as bar:
            for indices in groups.values():
                kwargs = normalize_gen_kwargs(arguments[indices[0]][1], self.max_gen_toks)
                stops = handle_stop_sequences(kwargs.pop("until", None), eos=end_text)
                max_new_tokens = kwargs.pop("max_gen_toks")
                kept = self.max_length - max_new_tokens
                if kept < 1:
                    raise GPT1InputError(
                        f"max_gen_toks {max_new_tokens} leaves no room for a context "
                        f"in max_length {self.max_length}")
                prompts = [(self.tok_encode(arguments[i][0]) or [self.prefix_token_id])[-kept:]
                           for i in indices]
                texts = generate_continuations(
                    self.lm, prompts, max_new_tokens, stops, self.batch_size,
                    stop_token_id=self.eot_token_id, sampling=kwargs,
                    on_batch=bar.update, decode=self._decode_generated)
                for i, text in zip(indices, texts):
                    results[i] = postprocess_generated_text(text, stops, None)
                    self.cache_hook.add_partial("generate_until", arguments[i], results[i])
        return results
