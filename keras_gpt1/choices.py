"""The names users choose among (CLI flags and keyword arguments), in a
module that imports nothing, so that the CLI parses flags without loading
Keras or TensorFlow. Each list's meaning lives with the code that acts on
it (named beside each)."""

# models/gpt1_causal_lm.py: `generate(sampler=...)`, `generate --sampler`.
SAMPLERS = ("greedy", "top_k", "top_p")
KERAS_HUB_SAMPLERS = ("beam", "contrastive", "greedy", "random", "top_k", "top_p")
DEFAULT_SAMPLER = "greedy"

# training/precision.py: `--precision`.
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

# training/distribution.py: `--strategy`.
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")

# export/litert_conversion.py: `export --quantize`.
QUANTIZATIONS = ("none", "float16", "int8")

# export/model_export.py: `export --format`.
SAVED_MODEL = "saved_model"
LITERT = "litert"
LITERTLM = "litertlm"
TRANSFORMERS = "transformers"
EXPORT_FORMATS = (SAVED_MODEL, LITERT, LITERTLM, TRANSFORMERS)
