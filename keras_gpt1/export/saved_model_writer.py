"""Write a versioned SavedModel for TF Serving.

    BASE/<version>/saved_model.pb
    BASE/<version>/variables/...
    BASE/<version>/assets.extra/tf_serving_warmup_requests
    BASE/<version>/assets.extra/gpt1_export.json   (what was exported)

TF Serving serves the highest numeric version under `BASE` and ignores
other names, so each version is built as a hidden directory in `BASE` and
renamed to `<version>` when complete (`artifacts.publishing_directory`):
the server never sees a half-written version, and a failed export leaves
nothing behind.

Portability. The graphs are traced without XLA (`jit_compile=False`):
XLA-compiled SavedModels do not load on TF Serving GPU ("Could not find
compiler for platform CUDA"). Keras's TensorFlow backend also implements
`ops.slice_update` (how the KV cache is written) with the XLA-only
`XlaDynamicUpdateSlice`; while serving graphs are traced, `serving_ops()`
swaps it for TensorFlow's own `TensorStridedSliceUpdate`, which has
ordinary CPU and GPU kernels. (The LiteRT export keeps the XLA op: the
converter lowers it to the builtin `DYNAMIC_UPDATE_SLICE`.)

Warm-up. `assets.extra/tf_serving_warmup_requests` is a TFRecord of
`tensorflow.serving.PredictionLog` protos that the server replays when it
loads a version, so the first real request does not pay for graph
initialisation. The protos come from `tensorflow_serving.apis` (`pip
install keras-gpt1[serving]`) when it is installed. Without it the same
bytes are written by hand: the messages used are small
(PredictionLog.predict_log -> PredictLog.request ->
PredictRequest{model_spec, inputs}) and their tensors are TensorFlow's own
`TensorProto`s.
"""

import contextlib
import os

import numpy as np
import tensorflow as tf

from keras_gpt1 import artifacts
from keras_gpt1.errors import GPT1InputError

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
EXPORT_INFO_FILE = "gpt1_export.json"
DEFAULT_MODEL_NAME = "gpt1"
# Warm-up prompt: short, so loading a version stays quick.
WARMUP_PROMPT = "Hello world"

# === Versions ===


def existing_versions(base_dir):
    """Numeric version directories under `base_dir`, sorted."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(int(n) for n in os.listdir(base_dir) if n.isdigit())


def check_base_directory(base_dir):
    """Raise `GPT1InputError` if `base_dir` exists and is not a directory."""
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise GPT1InputError(
            f"output {base_dir} is a file; a SavedModel export needs a "
            "directory (of versions)"
        )


def resolve_version(base_dir, version=None):
    """`version`, checked to be new, or one past the highest existing."""
    check_base_directory(base_dir)
    versions = existing_versions(base_dir)
    if version is None:
        return (versions[-1] + 1) if versions else 1
    if not isinstance(version, int) or version < 1:
        raise GPT1InputError(f"version must be an integer >= 1; got {version}")
    if version in versions:
        raise GPT1InputError(
            f"version {version} already exists in {base_dir}"
        )
    return version


def write_saved_model(module, base_dir, version, info, warmup_requests,
                      model_name=DEFAULT_MODEL_NAME):
    """Save `module` (an `ExportModule`) with its signatures, traced with
    serving ops, as `base_dir/<version>` atomically.

    `warmup_requests`: `[(signature name, {input: array})]` for
    `assets.extra`. Returns the result dict (path, version, size, ...).
    """
    version = resolve_version(base_dir, version)
    version_dir = os.path.join(base_dir, str(version))
    with serving_ops():
        signatures = module.signatures()
    with artifacts.publishing_directory(version_dir) as work_dir:
        tf.saved_model.save(module, work_dir, signatures=signatures)
        warmup_path = write_warmup_requests(work_dir, warmup_requests, model_name)
        info = dict(info, signatures=sorted(signatures), version=version)
        artifacts.write_json(os.path.join(work_dir, WARMUP_DIR, EXPORT_INFO_FILE), info)
        warmup_file = os.path.relpath(warmup_path, work_dir)
    return dict(
        info,
        format="saved_model",
        path=version_dir,
        warmup_requests=warmup_file,
        size_bytes=artifacts.directory_size(version_dir),
    )


# === Ops that TF Serving can run ===


def strided_slice_update(inputs, start_indices, updates):
    """`inputs` with `updates` written at `start_indices` (one index per
    axis; the update must fit, as it always does for the KV cache)."""
    updates = tf.convert_to_tensor(updates, dtype=inputs.dtype)
    begin = tf.stack([tf.cast(i, tf.int32) for i in start_indices])
    end = begin + tf.shape(updates, out_type=tf.int32)
    strides = tf.ones_like(begin)
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=inputs, begin=begin, end=end, strides=strides, value=updates
    )


@contextlib.contextmanager
def serving_ops():
    """Trace Keras ops with TF Serving-portable kernels inside this block."""
    import sys

    from keras_gpt1.keras_internals import INTERNALS
    from keras_gpt1.keras_internals import internal

    original = internal("tensorflow_slice_update")
    core = sys.modules[INTERNALS["tensorflow_slice_update"][0]]
    core.slice_update = strided_slice_update
    try:
        yield
    finally:
        core.slice_update = original


# === Warm-up requests ===

# Field numbers of tensorflow_serving/apis/{prediction_log,predict,model}.proto.
_PREDICTION_LOG_PREDICT_LOG = 6
_PREDICT_LOG_REQUEST = 1
_PREDICT_REQUEST_MODEL_SPEC = 1
_PREDICT_REQUEST_INPUTS = 2
_MODEL_SPEC_NAME = 1
_MODEL_SPEC_SIGNATURE_NAME = 3
_MAP_ENTRY_KEY = 1
_MAP_ENTRY_VALUE = 2
_LENGTH_DELIMITED = 2


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited field (a string or a sub-message)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _tensor_proto(value):
    value = np.asarray(value)
    if value.dtype.kind in "UO":
        value = np.vectorize(lambda s: s.encode("utf-8") if isinstance(s, str) else s,
                             otypes=[object])(value)
    return tf.make_tensor_proto(value)


def _encode_by_hand(model_name, signature_name, inputs):
    model_spec = _field(_MODEL_SPEC_NAME, model_name) + _field(
        _MODEL_SPEC_SIGNATURE_NAME, signature_name
    )
    request = _field(_PREDICT_REQUEST_MODEL_SPEC, model_spec)
    for name, value in inputs.items():
        entry = _field(_MAP_ENTRY_KEY, name) + _field(
            _MAP_ENTRY_VALUE, _tensor_proto(value).SerializeToString()
        )
        request += _field(_PREDICT_REQUEST_INPUTS, entry)
    predict_log = _field(_PREDICT_LOG_REQUEST, request)
    return _field(_PREDICTION_LOG_PREDICT_LOG, predict_log)


def _encode_with_serving_api(model_name, signature_name, inputs):
    from tensorflow_serving.apis import model_pb2
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    return log.SerializeToString()


def serving_api_available():
    try:
        import tensorflow_serving.apis.prediction_log_pb2  # noqa: F401
    except ImportError:
        return False
    return True


def prediction_log_bytes(model_name, signature_name, inputs, use_serving_api=None):
    """One serialized `PredictionLog` with a `PredictRequest` of `inputs`
    (`{input name: array}`) for `signature_name` of `model_name`."""
    if use_serving_api is None:
        use_serving_api = serving_api_available()
    encode = _encode_with_serving_api if use_serving_api else _encode_by_hand
    return encode(model_name, signature_name, inputs)


def write_warmup_requests(saved_model_dir, requests, model_name):
    """Write `requests` (a list of `(signature_name, {input: array})`) to
    `saved_model_dir/assets.extra/tf_serving_warmup_requests`; returns its
    path."""
    directory = os.path.join(saved_model_dir, WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            writer.write(prediction_log_bytes(model_name, signature_name, inputs))
    return path


def read_warmup_requests(path):
    """The serialized records of a warm-up file, in order."""
    return [r.numpy() for r in tf.data.TFRecordDataset(path)]
