"""Evaluation of language models: lm-evaluation-harness tasks and
perplexity of text.

- `KerasGPT1LM` (`lm_eval_model.py`): the harness's model "keras-gpt1"
  (needs `pip install keras-gpt1[eval]`); `evaluate_tasks`
  (`harness_evaluation.py`) runs tasks with it, as `keras-gpt1 evaluate-lm`
  does.
- `keras_gpt1.evaluation.perplexity.perplexity`: token, word and byte
  perplexity of a text file with the harness's rolling windows
  (`rolling_windows.py`), as `keras-gpt1 perplexity` does; no harness
  needed.
- Underneath: `TokenScorer` (log-likelihoods of many requests per
  compiled pass), `generate_continuations` (stop strings), `load_causal_lm`
  (any model path), the prefix token GPT-1 lacks (`prefix_token.py`).

Names load on first use, so `import keras_gpt1.evaluation` imports
neither Keras nor the harness.
"""

import importlib

_EXPORTS = {
    "KerasGPT1LM": "keras_gpt1.evaluation.lm_eval_model",
    "evaluate_tasks": "keras_gpt1.evaluation.harness_evaluation",
    "TokenScorer": "keras_gpt1.evaluation.token_scorer",
    "generate_continuations": "keras_gpt1.evaluation.text_generation",
    "load_causal_lm": "keras_gpt1.evaluation.model_loading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'keras_gpt1.evaluation' has no attribute {name!r}")
    if _EXPORTS[name] == "keras_gpt1.evaluation.lm_eval_model":
        from keras_gpt1.evaluation.harness_evaluation import require_lm_eval

        require_lm_eval()
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
