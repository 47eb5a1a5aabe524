"""Deployment: SavedModels for TF Serving, LiteRT bundles for devices.

- `export_saved_model(model, BASE)` writes `BASE/<version>/` with named
  signatures (tokenization and decoding in the graph, no XLA) and warm-up
  requests.
- `export_litert(model, DIR)` writes `DIR/model.tflite` (builtin ops only;
  causal LMs get `prefill` / `decode` signatures with a KV cache), the
  tokenizer files and `litert_config.json`.
- `LiteRTCausalLM(DIR/model.tflite).generate(prompt)` and
  `LiteRTTaskModel(DIR/model.tflite).run(texts)` run such bundles.
"""

from keras_gpt1.export.litert_causal_lm import LiteRTCausalLM
from keras_gpt1.export.litert_conversion import QUANTIZATIONS
from keras_gpt1.export.litert_conversion import FlexOpsError
from keras_gpt1.export.litert_task_model import LiteRTTaskModel
from keras_gpt1.export.model_export import FORMATS
from keras_gpt1.export.model_export import export_litert
from keras_gpt1.export.model_export import export_model_directory
from keras_gpt1.export.model_export import export_saved_model

__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "FlexOpsError",
    "LiteRTCausalLM",
    "LiteRTTaskModel",
    "export_litert",
    "export_model_directory",
    "export_saved_model",
]
