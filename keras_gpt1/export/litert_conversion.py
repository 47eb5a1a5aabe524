"""Convert an `ExportModule`'s signatures to `.tflite` flatbuffers with
builtin ops only: trace once, convert per quantization.

    with TracedModule(module) as traced:
        files = {q: traced.convert(q) for q in QUANTIZATIONS}

Python LiteRT runtimes from TF 2.20 on cannot run Flex (SELECT_TF_OPS)
models, so only `TFLITE_BUILTINS` is allowed: a graph that needs a TF op
fails the conversion with `FlexOpsError`, which names the ops.

Quantization (`QUANTIZATIONS`):
- "none": float32 weights and compute.
- "float16": float16 weights, dequantized to float32 when the file loads.
- "int8": dynamic-range quantization: int8 weights (tensors of at least
  1,024 elements), activations quantized on the fly, float32 outputs.
"""

import tempfile

import tensorflow as tf

from keras_gpt1.errors import GPT1InputError

QUANTIZATIONS = ("none", "float16", "int8")
NO_QUANTIZATION = "none"


class FlexOpsError(GPT1InputError):
    """The graph needs TensorFlow ops that LiteRT has no builtin kernel for."""


def check_quantization(quantize):
    """Raise `GPT1InputError` unless `quantize` is one of `QUANTIZATIONS`."""
    if quantize not in QUANTIZATIONS:
        raise GPT1InputError(
            f"unsupported quantization '{quantize}'; choose one of "
            f"{', '.join(QUANTIZATIONS)}"
        )


def _configure(converter, quantize):
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        # No representative dataset: dynamic-range int8.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _flex_ops(error):
    """Op names of a converter error that asks for Flex ops."""
    names = []
    for entry in getattr(error, "errors", None) or []:
        name = entry.operator.name
        if name and name not in names:
            names.append(name)
    return names


def convert_saved_model(saved_model_dir, signature_keys, quantize=NO_QUANTIZATION):
    """`.tflite` bytes with the SavedModel's `signature_keys` as signatures."""
    check_quantization(quantize)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        saved_model_dir, signature_keys=list(signature_keys)
    )
    _configure(converter, quantize)
    try:
        return converter.convert()
    except Exception as e:  # the converter raises its own ConverterError
        ops = _flex_ops(e)
        if not ops:
            raise
        raise FlexOpsError(
            f"LiteRT export needs TensorFlow ops without a builtin LiteRT "
            f"kernel ({', '.join(ops)}); Flex ops are not allowed because "
            f"Python LiteRT runtimes from TF 2.20 on cannot run them"
        ) from None


class TracedModule:
    """A module's signatures traced once into a temporary SavedModel (a
    context manager), ready to convert as many ways as asked.

    Args:
        module: a `tf.Module`.
        signatures: `{name: concrete function}`; default
            `module.signatures()`.
    """

    def __init__(self, module, signatures=None):
        self.module = module
        self.signatures = module.signatures() if signatures is None else signatures
        self._directory = None

    def __enter__(self):
        self._directory = tempfile.TemporaryDirectory(prefix="gpt1-litert-")
        tf.saved_model.save(self.module, self._directory.name,
                            signatures=self.signatures)
        return self

    def __exit__(self, *exc_info):
        self._directory.cleanup()
        self._directory = None

    def convert(self, quantize=NO_QUANTIZATION):
        """`.tflite` bytes, quantized as `quantize`."""
        return convert_saved_model(self._directory.name, list(self.signatures),
                                   quantize)


def convert_module(module, quantize=NO_QUANTIZATION, signatures=None):
    """`.tflite` bytes of `module`'s signatures (one conversion)."""
    check_quantization(quantize)
    with TracedModule(module, signatures) as traced:
        return traced.convert(quantize)
