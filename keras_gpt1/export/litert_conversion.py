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

The tied embedding is stored once. In float32 and float16 the converter
does that itself (the LM head reads the gather's `(vocabulary, width)`
table). Dynamic-range int8 quantizes the table twice, per tensor for the
GATHER and per output channel for the LM head's FULLY_CONNECTED, and the
two copies differ byte for byte; `share_tied_embedding` points the LM head
at the gather's int8 table (and its one scale) and drops the copy: -31 MB
on GPT-1. Each signature's tensors also carry their own quantization
parameters (per-channel scales and zero points, 1.0 MB per signature at
GPT-1 size); `share_quantization_parameters` writes each once. The LM head then reads a per-tensor quantized table; what that
costs a trained model is in docs/deployment.md ("Accuracy of quantization
on trained models": +0.01% perplexity either way).
"""

import tempfile

import tensorflow as tf

from keras_gpt1.choices import QUANTIZATIONS  # noqa: F401
from keras_gpt1.errors import GPT1InputError

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


def share_tied_embedding(model, vocabulary_size):
    """Point each LM-head FULLY_CONNECTED of `model` (a flatbuffer object
    model) whose int8 weights are a `(vocabulary_size, width)` copy of the
    token embedding at the embedding GATHER's table instead (hybrid
    FULLY_CONNECTED kernels take per-tensor weights), and drop the copy.
    A model without an int8 gather table is left as it is."""
    import copy

    from tensorflow.lite.python import schema_py_generated as schema

    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]

    def int8_table(subgraph, op, input_index):
        tensor = subgraph.tensors[op.inputs[input_index]]
        shape = [] if tensor.shape is None else list(tensor.shape)
        constant = model.buffers[tensor.buffer].data is not None
        if (tensor.type == schema.TensorType.INT8 and constant and len(shape) == 2
                and shape[0] == vocabulary_size):
            return tensor
        return None

    tables = [int8_table(subgraph, op, 0)
              for subgraph in model.subgraphs for op in subgraph.operators
              if codes[op.opcodeIndex] == schema.BuiltinOperator.GATHER]
    tables = [t for t in tables if t is not None]
    if not tables or tables[0].quantization is None or \
            len(tables[0].quantization.scale) != 1:
        return
    table = tables[0]
    copies = set()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if codes[op.opcodeIndex] != schema.BuiltinOperator.FULLY_CONNECTED:
                continue
            weights = int8_table(subgraph, op, 1)
            if weights is None or weights.buffer == table.buffer:
                continue
            copies.add(weights.buffer)
            weights.buffer = table.buffer
            weights.quantization = copy.deepcopy(table.quantization)
    for buffer in copies:
        model.buffers[buffer].data = None


class _PackedOnce:
    """A flatbuffer object packed once per builder: every tensor that holds
    it points at one table (flatbuffers allow shared offsets)."""

    def __init__(self, value):
        self.value = value
        self._offsets = {}

    def __getattr__(self, name):
        if name == "value":  # not yet set (copying)
            raise AttributeError(name)
        return getattr(self.value, name)

    def Pack(self, builder):
        if id(builder) not in self._offsets:
            self._offsets[id(builder)] = self.value.Pack(builder)
        return self._offsets[id(builder)]


def _quantization_key(parameters):
    import numpy as np

    fields = []
    for name in ("scale", "zeroPoint", "min", "max"):
        value = getattr(parameters, name)
        fields.append(None if value is None else np.asarray(value).tobytes())
    return (*fields, parameters.quantizedDimension, parameters.detailsType,
            parameters.details is None)


def share_quantization_parameters(model):
    """Let every tensor of `model` (a flatbuffer object model) whose
    quantization parameters equal another's point at one copy when
    written. The converter writes a tensor per signature, each with its own
    per-channel scales and zero points (a float32 and an int64 per output
    channel: 1.0 MB per signature at GPT-1 size); the weights themselves
    are already shared."""
    shared = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            parameters = tensor.quantization
            if parameters is None or (parameters.scale is None
                                      and parameters.zeroPoint is None):
                continue
            if parameters.details is not None:
                continue  # custom quantization: left alone
            key = _quantization_key(parameters)
            tensor.quantization = shared.setdefault(key, _PackedOnce(parameters))


def compact_model(tflite_bytes, tied_vocabulary_size=None):
    """`tflite_bytes` with what several signatures or a tied embedding
    store twice stored once: the int8 tied embedding
    (`share_tied_embedding`, with `tied_vocabulary_size`) and equal
    quantization parameters (`share_quantization_parameters`)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    if tied_vocabulary_size:
        share_tied_embedding(model, tied_vocabulary_size)
    share_quantization_parameters(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


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

    def convert(self, quantize=NO_QUANTIZATION, tied_vocabulary_size=None):
        """`.tflite` bytes, quantized as `quantize`; with
        `tied_vocabulary_size`, an int8 tied embedding stored once."""
        tflite_bytes = convert_saved_model(self._directory.name,
                                           list(self.signatures), quantize)
        if quantize != NO_QUANTIZATION:
            tflite_bytes = compact_model(
                tflite_bytes, tied_vocabulary_size if quantize == "int8" else None)
        return tflite_bytes


def convert_module(module, quantize=NO_QUANTIZATION, signatures=None,
                   tied_vocabulary_size=None):
    """`.tflite` bytes of `module`'s signatures (one conversion)."""
    check_quantization(quantize)
    with TracedModule(module, signatures) as traced:
        return traced.convert(quantize, tied_vocabulary_size)
