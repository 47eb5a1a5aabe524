"""Any keras-gpt1 language model from a path or name, for evaluation."""

import os

from keras_gpt1.errors import GPT1InputError


def load_causal_lm(model):
    """A `GPT1CausalLM` with a tokenizer from `model`:

    - a `GPT1CausalLM` (returned as it is);
    - a model directory (`model.keras` and the tokenizer's files: what
      `pretrain`, `convert` write) or a `.keras` file;
    - a preset directory written by `save_to_preset`, or a keras-hub handle;
    - a Hugging Face `openai-gpt` checkpoint: a directory with
      `config.json`, `model.safetensors`, `vocab.json`, `merges.txt` (as
      `export --format transformers` writes for GPT-1's tokenizer), or
      `hf://openai-community/openai-gpt`.

    `GPT1InputError` (one line) for anything else: a missing path, a
    directory that is none of these, a built-in architecture name
    (`"gpt1"`: random weights, no tokenizer), a fine-tuned task model.
    """
    from keras_gpt1 import GPT1CausalLM
    from keras_gpt1 import artifacts
    from keras_gpt1.models.gpt1_presets import GPT1_PRESETS

    if isinstance(model, GPT1CausalLM):
        lm, name = model, type(model).__name__
    elif not isinstance(model, (str, os.PathLike)):
        raise GPT1InputError(f"not a model: {model!r}")
    else:
        name = os.fspath(model)
        if name in GPT1_PRESETS:
            raise GPT1InputError(
                f"'{name}' names an architecture with random weights and no "
                "tokenizer; give a trained model (a model directory, a preset "
                "directory or a Hugging Face openai-gpt checkpoint)"
            )
        if "://" not in name and not os.path.exists(name):
            raise GPT1InputError(f"model not found: {name}")
        if name.endswith(".keras") or os.path.isfile(artifacts.model_path(name)):
            lm = artifacts.load_model(name)
        elif os.path.isfile(name):
            raise GPT1InputError(
                f"{name} is not a model (a directory, a .keras file, a preset "
                "or a Hugging Face openai-gpt checkpoint)"
            )
        else:
            lm = GPT1CausalLM.from_preset(name)
    if not isinstance(lm, GPT1CausalLM):
        raise GPT1InputError(
            f"{name} holds a {type(lm).__name__}, not a language model (GPT1CausalLM)"
        )
    if lm.tokenizer is None:
        raise GPT1InputError(f"{name} has no tokenizer; evaluation needs text in")
    return lm
