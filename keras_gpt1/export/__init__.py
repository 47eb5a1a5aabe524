"""Deployment: the export grid (model kind × format) and the runtimes.

- `export_saved_model(model, BASE)` writes `BASE/<version>/` for TF
  Serving with named signatures (tokenization and decoding in the graph,
  no XLA) and warm-up requests.
- `export_litert(model, DIR)` writes `DIR/model.tflite` (builtin ops only;
  causal LMs get `prefill` / `decode` signatures with a KV cache), the
  tokenizer files and `litert_config.json`.
- `export_litertlm(model, FILE.litertlm)` writes one file that Google's
  LiteRT-LM runtime runs (Android, iOS, desktop): model, tokenizer,
  metadata; `LiteRTLMCausalLM(FILE).generate(prompt)` runs it from Python.
- `export_transformers(model, DIR)` writes a Hugging Face `openai-gpt`
  directory (`OpenAIGPTLMHeadModel.from_pretrained`, `pipeline`).
- `LiteRTCausalLM(DIR/model.tflite).generate(prompt)` and
  `LiteRTTaskModel(DIR/model.tflite).run(texts)` run such bundles.

Files: `model_export.py` (the entry point), one module per cell of the
grid (`causal_lm_saved_model`, `causal_lm_litert`, `task_saved_model`,
`task_litert`), and what they share: `signatures.py` (every signature and
tensor name), `export_module.py` (the exported graphs' base),
`saved_model_writer.py` (versions, warm-up requests, portable ops),
`litert_conversion.py` (trace once, convert per quantization),
`cache_attention.py` (the KV-cache decoder written for LiteRT's kernels),
`quality_gate.py` (quantized files against float32),
`litert_bundle.py` (the bundle directory), `litert_cache_runner.py` and
`litert_runtime.py` (runners).
"""

from keras_gpt1.export.litert_conversion import QUANTIZATIONS
from keras_gpt1.export.litert_conversion import FlexOpsError
from keras_gpt1.export.litert_runtime import LiteRTCausalLM
from keras_gpt1.export.litert_runtime import LiteRTLMCausalLM
from keras_gpt1.export.litert_runtime import LiteRTTaskModel
from keras_gpt1.export.model_export import FORMATS
from keras_gpt1.export.model_export import export_litert
from keras_gpt1.export.model_export import export_litertlm
from keras_gpt1.export.model_export import export_model_directory
from keras_gpt1.export.model_export import export_saved_model
from keras_gpt1.export.model_export import export_transformers

__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "FlexOpsError",
    "LiteRTCausalLM",
    "LiteRTLMCausalLM",
    "LiteRTTaskModel",
    "export_litert",
    "export_litertlm",
    "export_model_directory",
    "export_saved_model",
    "export_transformers",
]
