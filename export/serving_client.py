"""Call a keras-gpt1 model served by TF Serving, over gRPC, with the
request protos of `tensorflow-serving-api`.

    pip install "keras-gpt1[serving]"      # tensorflow-serving-api, grpcio

    # a causal LM: greedy continuation, tokenized and decoded by the server
    python export/serving_client.py --model gpt1 --prompt "The cat sat"

    # a fine-tuned task model: one --input per text input of the task
    python export/serving_client.py --model sst2 --input text="a gripping film"
    python export/serving_client.py --model mnli \
        --input premise="A man plays." --input hypothesis="Someone plays."
    python export/serving_client.py --model race --input context="..." \
        --input question="..." --input answers="yes|no|maybe"

    # raw logits of token ids (the `logits` signature)
    python export/serving_client.py --model gpt1 --token-ids 464 3797 3332

Prints one JSON object with the outputs. The functions below also work as a
library: `make_request`, `read_response`, `generate`, `predict`.
"""

import argparse
import json
import sys

import numpy as np

DEFAULT_SERVER = "localhost:8500"
DEFAULT_TIMEOUT_S = 60.0
GENERATE_SIGNATURE = "serving_default"
# Multiple choice: `--input answers=A|B|C` is one row of answers.
ANSWERS_INPUT = "answers"
ANSWER_SEPARATOR = "|"
LOGITS_SIGNATURE = "logits"
# gRPC's default 4 MB is too small for the logits of long sequences.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def make_request(model_name, inputs, signature_name=GENERATE_SIGNATURE, version=None):
    """A `PredictRequest` of `inputs` (`{input name: array-like}`); strings
    become tf.string tensors (UTF-8)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        value = np.asarray(value)
        if value.dtype.kind == "U":
            value = value.astype(object)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def read_response(response):
    """`{output name: numpy array}` of a `PredictResponse`."""
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def predict(stub, model_name, inputs, signature_name=GENERATE_SIGNATURE,
            timeout=DEFAULT_TIMEOUT_S, version=None):
    """Run one signature of a served model: `{output name: array}`."""
    request = make_request(model_name, inputs, signature_name, version)
    return read_response(stub.Predict(request, timeout))


def generate(stub, model_name, prompts, timeout=DEFAULT_TIMEOUT_S):
    """Greedy continuations of `prompts` (non-empty strings): the prompt
    followed by the new text, one string per prompt."""
    prompts = list(prompts)
    if not prompts or any(not p for p in prompts):
        raise ValueError("every prompt must be a non-empty string")
    outputs = predict(stub, model_name, {"prompts": np.array(prompts, object)},
                      GENERATE_SIGNATURE, timeout)
    return [text.decode("utf-8") for text in outputs["text"]]


def open_stub(server=DEFAULT_SERVER):
    """A `PredictionServiceStub` on an insecure gRPC channel to `server`."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(server, options=[
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ])
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _as_json(outputs):
    def plain(value):
        if value.dtype == object:
            return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(
                value).tolist()
        return value.tolist()

    return {name: plain(value) for name, value in sorted(outputs.items())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="host:port (gRPC)")
    parser.add_argument("--model", required=True, help="model name in models.config")
    parser.add_argument("--version", type=int, default=None,
                        help="a version to call (default: the latest served)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--prompt", action="append", help="causal LM prompt (repeatable)")
    what.add_argument("--input", action="append", metavar="NAME=TEXT",
                      help="task model text input (repeat for pairs; "
                      "answers=A|B|C for multiple choice)")
    what.add_argument("--token-ids", type=int, nargs="+", metavar="ID",
                      help="token ids for the `logits` signature")
    args = parser.parse_args(argv)

    if args.prompt is not None and any(not p for p in args.prompt):
        parser.error("every --prompt must be a non-empty string")
    if args.prompt is not None:
        inputs, signature = {"prompts": np.array(args.prompt, object)}, GENERATE_SIGNATURE
    elif args.input is not None:
        if any("=" not in item for item in args.input):
            parser.error("--input takes NAME=TEXT")
        pairs = [item.split("=", 1) for item in args.input]
        inputs = {
            name: np.array([text.split(ANSWER_SEPARATOR) if name == ANSWERS_INPUT
                            else text], object)
            for name, text in pairs
        }
        signature = GENERATE_SIGNATURE
    else:
        inputs = {"token_ids": np.array([args.token_ids], "int32")}
        signature = LOGITS_SIGNATURE
    outputs = predict(open_stub(args.server), args.model, inputs, signature,
                      args.timeout, args.version)
    print(json.dumps(_as_json(outputs), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
