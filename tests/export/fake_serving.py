"""A stand-in for TF Serving's PredictionService: it runs the requested
signature of a SavedModel loaded in-process, so the client example can be
tested without a model server."""

import importlib.util
import os

import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT_PATH = os.path.join(REPO, "export", "serving_client.py")


def load_serving_client():
    spec = importlib.util.spec_from_file_location("serving_client", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakePredictionService:
    """`Predict(request, timeout)` like `PredictionServiceStub`."""

    def __init__(self, loaded_saved_model):
        self.loaded = loaded_saved_model
        self.requests = []

    def Predict(self, request, timeout=None):
        from tensorflow_serving.apis import predict_pb2

        self.requests.append(request)
        signature = self.loaded.signatures[request.model_spec.signature_name]
        inputs = {name: tf.constant(tf.make_ndarray(proto))
                  for name, proto in request.inputs.items()}
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for name, value in signature(**inputs).items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response
