"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests`,
a TFRecord of `tensorflow.serving.PredictionLog` protos that the server
replays when it loads a version, so the first real request does not pay
for graph initialisation.

The protos come from `tensorflow_serving.apis` (`pip install
keras-gpt1[serving]`) when it is installed. Without it the same bytes are
written by hand: the messages used are small (PredictionLog.predict_log ->
PredictLog.request -> PredictRequest{model_spec, inputs}) and their tensors
are TensorFlow's own `TensorProto`s.
"""

import os

import numpy as np
import tensorflow as tf

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"

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
