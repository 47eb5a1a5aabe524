"""Convert a `tf.Module`'s signatures to one `.tflite` flatbuffer with
builtin ops only, optionally quantized.

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


def convert_module(module, functions, quantize=NO_QUANTIZATION):
    """Convert `functions` (`{signature name: concrete function}` of
    `module`) to `.tflite` bytes, through a temporary SavedModel."""
    check_quantization(quantize)
    with tempfile.TemporaryDirectory(prefix="gpt1-litert-") as tmp:
        tf.saved_model.save(module, tmp, signatures=functions)
        return convert_saved_model(tmp, list(functions), quantize)
