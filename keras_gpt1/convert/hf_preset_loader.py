"""`from_preset` on a Hugging Face `openai-gpt` checkpoint: a keras-hub
`PresetLoader` that converts it on the fly.

keras-hub finds a checkpoint's files by handle (a local directory, or
`hf://openai-community/openai-gpt`, downloaded into the Hugging Face
cache) but has no converter for `model_type: openai-gpt`. This loader
fetches the files through keras-hub's own `get_file` and converts them
with the same reader and weight table as `keras-gpt1 convert`
(`hf_checkpoint.py`, `weight_table.py`), so `GPT1CausalLM.from_preset(dir)`
and `keras-gpt1 convert --hf-dir dir` give the same model.
"""

import os

from keras_gpt1.convert.hf_checkpoint import CONFIG_FILE
from keras_gpt1.convert.hf_checkpoint import INDEX_FILE
from keras_gpt1.convert.hf_checkpoint import MODEL_TYPE
from keras_gpt1.convert.hf_checkpoint import WEIGHTS_FILE
from keras_gpt1.convert.hf_checkpoint import read_hf_checkpoint
from keras_gpt1.convert.weight_table import build_backbone
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.keras_internals import internal
from keras_gpt1.tokenizers.openai_gpt_tokenizer import HF_FILES

# Dropout of GPT-1 (the checkpoint's own `resid_pdrop` when it has one).
DEFAULT_DROPOUT = 0.1


def hf_preset_loader(preset, config):
    """The loader for a checkpoint whose `config.json` is `config`."""
    model_type = config.get("model_type")
    if model_type != MODEL_TYPE:
        raise GPT1InputError(
            f"{preset}: {CONFIG_FILE} is for a '{model_type}' model, not "
            f"'{MODEL_TYPE}' (GPT-1)"
        )
    return OpenAIGPTPresetLoader(preset, config)


class OpenAIGPTPresetLoader(internal("hub_preset_loader")):
    """Loads `GPT1Backbone`, `OpenAIGPTTokenizer` and, through keras-hub's
    `PresetLoader.load_task`, a `GPT1CausalLM` from an `openai-gpt`
    checkpoint."""

    def check_backbone_class(self):
        from keras_gpt1.models.gpt1_backbone import GPT1Backbone

        return GPT1Backbone

    def _local_directory(self, names):
        """The local directory holding `names` (downloaded if the preset is
        a handle); every file of a handle lands in one cache snapshot."""
        paths = [internal("hub_get_file")(self.preset, name) for name in names]
        return os.path.dirname(paths[0])

    def _weight_files(self):
        if internal("hub_check_file_exists")(self.preset, WEIGHTS_FILE):
            return [WEIGHTS_FILE]
        if internal("hub_check_file_exists")(self.preset, INDEX_FILE):
            index = internal("hub_load_json")(self.preset, INDEX_FILE)
            return [INDEX_FILE, *sorted(set(index["weight_map"].values()))]
        raise GPT1InputError(f"{self.preset}: no {WEIGHTS_FILE}")

    def load_backbone(self, cls, load_weights, **kwargs):
        dropout = kwargs.pop("dropout", self.config.get("resid_pdrop", DEFAULT_DROPOUT))
        directory = self._local_directory([CONFIG_FILE, *self._weight_files()])
        weights, architecture = read_hf_checkpoint(directory)
        if not load_weights:
            return cls(**architecture.backbone_config(dropout), **kwargs)
        return build_backbone(weights, architecture, source=self.preset,
                              dropout=dropout, **kwargs)

    def load_tokenizer(self, cls, config_file=None, **kwargs):
        from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer

        directory = self._local_directory(list(HF_FILES))
        return OpenAIGPTTokenizer.from_directory(directory, **kwargs)

    def load_preprocessor(self, cls, config_file=None, **kwargs):
        kwargs.setdefault("tokenizer", self.load_tokenizer(None))
        kwargs.setdefault("sequence_length", self.config.get("n_positions"))
        return cls(**kwargs)


def _is_a_hugging_face_checkpoint(config):
    return "model_type" in config


def _register():
    from keras_gpt1.convert.hf_checkpoint import export_transformers_directory
    from keras_gpt1.models import checkpoint_formats

    checkpoint_formats.register_reader("huggingface", _is_a_hugging_face_checkpoint,
                                       hf_preset_loader)
    checkpoint_formats.register_writer("transformers", export_transformers_directory)


_register()
