"""The quality gate every quantized causal-LM `.tflite` passes through
before `export` writes it (`--format litert` and `litertlm`, every
`--quantize` but `none`).

On held-out text (`--gate-text FILE`, else `DEFAULT_GATE_TEXT` below), cut
into windows of the exported length, up to `GATE_TOKENS` tokens:

- perplexity of the quantized file (the `decode` signature teacher-forced
  from an empty cache, as on a device) against the Keras model in float32
  on the same windows, and the top-1 agreement of their next-token
  predictions;
- greedy agreement: from `GREEDY_PROMPTS` prompts (the first tokens of
  windows) the file continues greedily for up to `GREEDY_TOKENS` tokens;
  Keras reads that continuation and says where it would have picked
  otherwise. The first such step is the length of the prefix the two
  greedy continuations share; `greedy_identical` counts the prompts where
  they share all of it.

The gate passes when the perplexity is within `PERPLEXITY_TOLERANCE` (1%)
of float32's. Greedy agreement is reported, not gated: a continuation
that differs once (a near tie) goes its own way after it, so its length
measures luck as much as quality.

A file that fails is still written, with a warning on stderr that gives
the figures, and the figures go into the export's summary and the file's
metadata (`quality_gate`). Why warn, not refuse: the figures depend on the
text they are measured on (the built-in passage is general English, not
necessarily the model's domain), and trading 1% of perplexity for a file
half the size is a choice a user may make knowingly; what must not happen
is a quantization that ruins a model silently.
"""

import os
import sys

import numpy as np

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.signatures import CAUSAL_LM_TASK

PERPLEXITY_TOLERANCE = 0.01
GATE_TOKENS = 512  # held-out tokens scored at most
GREEDY_PROMPTS = 4
GREEDY_TOKENS = 32
MIN_GATE_TOKENS = 8
# Written for this project (no model has trained on it): plain English of
# the kind GPT-1 read, 300-odd tokens.
DEFAULT_GATE_TEXT = (
    "The ferry left the harbour a little after nine, later than the timetable "
    "promised, because the mate had gone back for a crate of oranges that "
    "someone had left on the quay. Nobody on board seemed to mind. The morning "
    "was clear and the water flat, and most of the passengers stood along the "
    "rail to watch the town grow small behind them: the white church, the row "
    "of painted houses, the crane at the end of the pier that had not moved in "
    "twenty years. A woman with two children pointed out the island they were "
    "going to, a low green shape on the horizon, and the younger child asked "
    "whether it was far. It is not far, she said, but it takes longer than you "
    "think. Inside the cabin an old man was reading a newspaper he had clearly "
    "read before, folding it back at the same page each time the boat rolled. "
    "He had made the crossing every week for most of his life, first to sell "
    "fish, then to visit his sister, and now, since she had died in the "
    "spring, simply because he did not know what else to do on a Tuesday. The "
    "captain knew him and waved from the wheelhouse. Halfway across, the wind "
    "rose and the sea turned grey, and the passengers went inside one by one, "
    "until only the two children were left at the rail, shouting each time a "
    "wave broke over the bow. Their mother called them in. They came slowly, "
    "wet and delighted, and sat down on either side of the old man, who put "
    "away his newspaper and began, without being asked, to tell them about the "
    "winter the harbour froze and the whole town walked out onto the ice to "
    "look at the ships that could not leave. By the time he had finished the "
    "island was close enough to see the boats drawn up on the beach and the "
    "smoke rising from the chimneys, and the children had forgotten to ask "
    "again whether it was far."
)


def read_gate_text(path):
    """The text of `path` (UTF-8), or `GPT1InputError` naming the problem."""
    if path is None:
        return None
    if not os.path.isfile(path):
        raise GPT1InputError(f"gate text not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise GPT1InputError(f"could not read gate text {path}: {e}") from None


def gate_ids(model, text):
    """The first `GATE_TOKENS` token ids of `text`; `GPT1InputError` when it
    has fewer than `MIN_GATE_TOKENS`."""
    from keras_gpt1.token_ids import token_id_lists

    ids = np.asarray(token_id_lists(model.tokenizer, [text])[0], "int32")[:GATE_TOKENS]
    if len(ids) < MIN_GATE_TOKENS:
        raise GPT1InputError(
            f"the gate text has {len(ids)} tokens; the quality gate needs at least "
            f"{MIN_GATE_TOKENS}")
    return ids


def runner_config(module):
    """What `LiteRTCausalLM` needs to know of a causal-LM module's file."""
    backbone = module.model.backbone
    tokenizer = module.model.tokenizer
    return {"task": CAUSAL_LM_TASK, "max_length": module.max_length,
            "prefill_length": None, "cache_shape": list(module.cache_shape),
            "num_layers": backbone.num_layers, "vocabulary_size": backbone.vocabulary_size,
            "pad_token_id": getattr(tokenizer, "pad_token_id", None),
            "end_token_id": getattr(tokenizer, "end_token_id", None)}


def _log_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


def _mean_nll(logits, window):
    return float(np.mean(-_log_softmax(logits[:-1])[np.arange(len(window) - 1),
                                                     window[1:]]))


def teacher_forced(runner, ids):
    """Logits `(len(ids), vocab)` of `decode` fed `ids` from position 0."""
    cache, rows = runner.initial_cache(), []
    for position, token in enumerate(ids):
        logits, cache = runner.decode(int(token), position, cache)
        rows.append(logits)
    return np.stack(rows)


def greedy_continuation(runner, prompt, new_tokens):
    """The runner's greedy continuation of `prompt` (decode only), ids."""
    cache, logits = runner.initial_cache(), None
    for position, token in enumerate(prompt):
        logits, cache = runner.decode(int(token), position, cache)
    ids = []
    for position in range(len(prompt), len(prompt) + new_tokens):
        ids.append(int(np.argmax(logits)))
        if position + 1 < len(prompt) + new_tokens:
            logits, cache = runner.decode(ids[-1], position, cache)
    return np.asarray(ids, "int32")


def measure(model, runner, ids):
    """The gate's figures for `runner` (a `LiteRTCausalLM`) against `model`
    (Keras, float32) on `ids`: windows of the exported length for
    perplexity, prompts spread over them for greedy agreement."""
    max_length = runner.max_length
    windows = [ids[i:i + max_length] for i in range(0, len(ids), max_length)]
    windows = [w for w in windows if len(w) >= MIN_GATE_TOKENS]
    keras_logits = [np.asarray(model(w[None]), "float32")[0] for w in windows]
    litert_logits = [teacher_forced(runner, w) for w in windows]
    reference = np.mean([_mean_nll(k, w) for k, w in zip(keras_logits, windows)])
    quantized = np.mean([_mean_nll(q, w) for q, w in zip(litert_logits, windows)])
    top1 = np.concatenate([k.argmax(-1) == q.argmax(-1)
                           for k, q in zip(keras_logits, litert_logits)])
    prompt_length = max(1, min(16, max_length // 4, len(ids)))
    new_tokens = min(GREEDY_TOKENS, max_length - prompt_length)
    starts = np.linspace(0, len(ids) - prompt_length, GREEDY_PROMPTS).astype(int)
    prefixes, same = [], []
    for start in sorted(set(starts.tolist())):
        prompt = ids[start:start + prompt_length]
        continuation = greedy_continuation(runner, prompt, new_tokens)
        sequence = np.concatenate([prompt, continuation])
        keras_picks = np.asarray(model(sequence[None]), "float32")[0].argmax(-1)
        agrees = keras_picks[len(prompt) - 1:-1] == continuation
        same.append(agrees)
        prefixes.append(int(np.argmin(np.append(agrees, False))))
    change = float(np.exp(quantized - reference) - 1)
    return {
        "passed": bool(abs(change) <= PERPLEXITY_TOLERANCE),
        "perplexity_tolerance": PERPLEXITY_TOLERANCE,
        "perplexity_float32": float(np.exp(reference)),
        "perplexity": float(np.exp(quantized)),
        "perplexity_change": change,
        "top1_agreement": float(np.mean(top1)),
        "scored_tokens": int(sum(len(w) - 1 for w in windows)),
        "greedy_prompts": len(prefixes),
        "greedy_tokens": int(new_tokens),
        "greedy_identical": int(sum(p == new_tokens for p in prefixes)),
        "greedy_common_prefix": float(np.mean(prefixes)),
        "greedy_token_agreement": float(np.mean(np.concatenate(same))),
    }


class QualityGate:
    """The gate of one export: `QualityGate(model, quantize, gate_text)`
    tokenizes the text at once (a bad text fails before any conversion),
    then `check(module, tflite_bytes)` runs it on the converted file.

    Float32 files and models without a tokenizer are not gated (`check`
    returns None)."""

    def __init__(self, model, quantize, gate_text=None, verbose=True):
        self.quantize = quantize
        self.source = "built-in passage" if gate_text is None else "gate text"
        self.verbose = verbose
        self.ids = None
        if quantize != "none" and model.tokenizer is not None:
            self.ids = gate_ids(model, DEFAULT_GATE_TEXT if gate_text is None
                                else gate_text)

    def check(self, module, tflite_bytes):
        """The figures (`passed`, ...) of `tflite_bytes`, a file of
        `module` (a `CausalLMLiteRTModule`); a warning with them on stderr
        when it fails."""
        from keras_gpt1.export.litert_runtime import LiteRTCausalLM

        if self.ids is None:
            return None
        model = module.model
        runner = LiteRTCausalLM.from_model(tflite_bytes, runner_config(module),
                                           tokenizer=model.tokenizer)
        try:
            figures = {"quantization": self.quantize, "text": self.source,
                       **measure(model, runner, self.ids)}
        finally:
            runner.close()
        if self.verbose and not figures["passed"]:
            print(f"keras-gpt1: warning: {describe(figures)}", file=sys.stderr)
        return figures


def describe(figures):
    """One line: the figures, and whether they pass."""
    verdict = "within" if figures["passed"] else "FAILS"
    return (
        f"{figures['quantization']} {verdict} the quality gate: held-out perplexity "
        f"{figures['perplexity']:.3f} against {figures['perplexity_float32']:.3f} in "
        f"float32 ({100 * figures['perplexity_change']:+.2f}%, limit "
        f"±{100 * figures['perplexity_tolerance']:g}%) over "
        f"{figures['scored_tokens']} tokens; top-1 agreement "
        f"{figures['top1_agreement']:.3f}; greedy continuations identical "
        f"{figures['greedy_identical']}/{figures['greedy_prompts']} (mean shared "
        f"prefix {figures['greedy_common_prefix']:.1f} of {figures['greedy_tokens']} "
        f"tokens)"
    )
