"""Checkpoint formats other packages teach the models, by registration:
readers that `from_preset` tries on a directory's `config.json`, and
writers behind `export_to_transformers`. `keras_gpt1/convert/` registers
Hugging Face's `openai-gpt` both ways when it is imported (which
`keras_gpt1.register_classes()`, and so any `keras_gpt1.<Class>`, does), so
the models import nothing above them.
"""

from keras_gpt1.errors import GPT1InputError

_READERS = []  # (name, detect(config) -> bool, loader(preset, config))
_WRITERS = {}  # name -> write(model, path) -> summary dict


def register_reader(name, detect, loader):
    """Teach `from_preset` a format: `detect(config)` says whether a
    preset's `config.json` is in it, `loader(preset, config)` returns a
    keras-hub `PresetLoader` for it."""
    _READERS[:] = [r for r in _READERS if r[0] != name] + [(name, detect, loader)]


def register_writer(name, write):
    """Teach the models' `export_to_<name>`: `write(model, path)`."""
    _WRITERS[name] = write


def reader_for(config):
    """The loader factory of the first registered format `config` is in, or
    None."""
    for _, detect, loader in _READERS:
        if detect(config):
            return loader
    return None


def writer(name):
    """The registered writer `name`; `GPT1InputError` if none is."""
    _register_known_formats()
    if name not in _WRITERS:
        raise GPT1InputError(f"no '{name}' writer is registered")
    return _WRITERS[name]


def _register_known_formats():
    """Let the package register what it knows (imports `keras_gpt1.convert`
    through the package's composition root, not from models/)."""
    import keras_gpt1

    keras_gpt1.register_classes()
