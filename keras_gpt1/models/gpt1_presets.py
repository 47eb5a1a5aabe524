"""Presets: the built-in architectures (names that build random weights),
and how any other preset is found.

`GPT1Backbone.from_preset(name)` / `GPT1CausalLM.from_preset(name)`:

- `"gpt1"`, `"tiny"`: a fresh model of that architecture, random weights
  (these names never download anything);
- a directory or handle written by `save_to_preset`: keras-hub's loader;
- a Hugging Face `openai-gpt` checkpoint (a directory with `config.json`,
  `model.safetensors`, `vocab.json`, `merges.txt`, or an `hf://` handle):
  converted on the fly by `keras_gpt1.convert.hf_preset_loader`.
"""

import os

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line

GPT1_PRESETS = {
    "gpt1": {
        "description": (
            "The paper's model: 12 layers, 768 wide, 12 heads, 3072 MLP, 512 "
            "context, 40,478 BPE tokens; 116,534,784 parameters. Random "
            "weights: load OpenAI's with from_preset('hf://openai-community/"
            "openai-gpt') or `keras-gpt1 convert`."
        ),
        "config": {
            "vocabulary_size": 40478,
            "num_layers": 12,
            "num_heads": 12,
            "hidden_dim": 768,
            "intermediate_dim": 3072,
            "max_sequence_length": 512,
            "dropout": 0.1,
        },
    },
    "tiny": {
        "description": (
            "Same shape of model, sized for CPU demos and tests: 5,239,808 "
            "parameters with an 8,000-token vocabulary. Random weights."
        ),
        "config": {
            "vocabulary_size": 8000,
            "num_layers": 4,
            "num_heads": 4,
            "hidden_dim": 256,
            "intermediate_dim": 1024,
            "max_sequence_length": 128,
            "dropout": 0.1,
        },
    },
}


def preset_config(name):
    """The `GPT1Backbone` config of a built-in architecture."""
    if name not in GPT1_PRESETS:
        raise GPT1InputError(
            f"unknown preset '{name}'; choose one of {', '.join(sorted(GPT1_PRESETS))}"
        )
    return dict(GPT1_PRESETS[name]["config"])


def preset_loader(preset):
    """keras-hub's `PresetLoader` for `preset`, or a registered format's
    (`models/checkpoint_formats.py`: Hugging Face `openai-gpt`, which
    keras-hub has no converter for). `GPT1InputError` for a path that is
    neither."""
    from keras_gpt1.keras_internals import internal
    from keras_gpt1.models import checkpoint_formats

    if not isinstance(preset, str):
        raise GPT1InputError(f"a preset must be a string; got {preset!r}")
    try:
        config_file = internal("hub_config_file")
        if internal("hub_check_file_exists")(preset, config_file):
            config = internal("hub_load_json")(preset, config_file)
            if isinstance(config, dict) and "model_type" in config:
                checkpoint_formats._register_known_formats()
                loader = checkpoint_formats.reader_for(config)
                if loader is None:
                    raise GPT1InputError(
                        f"{preset}: {config_file} is for a "
                        f"'{config['model_type']}' model, not 'openai-gpt' (GPT-1)")
                return loader(preset, config)
        return internal("hub_get_preset_loader")(preset)
    except (FileNotFoundError, ValueError) as e:
        if os.path.isdir(preset):
            raise GPT1InputError(
                f"{preset} is neither a preset saved with save_to_preset nor a "
                f"Hugging Face openai-gpt checkpoint ({first_line(e)})"
            ) from None
        raise GPT1InputError(
            f"unknown preset '{preset}'; choose one of "
            f"{', '.join(sorted(GPT1_PRESETS))}, a directory saved with "
            "save_to_preset, or a Hugging Face openai-gpt checkpoint (a "
            "directory or hf://owner/name)"
        ) from None


def saved_dtype(loader):
    """The dtype policy a preset was saved with, or None. keras-hub 0.32
    loads a backbone in the global policy (and a quantized one not at all);
    this project's `from_preset` passes the saved policy back in."""
    config = getattr(loader, "config", None)
    if not isinstance(config, dict):
        return None
    dtype = config.get("config", {}).get("dtype")
    return dtype if dtype else None


