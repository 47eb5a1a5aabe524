"""The deployment files in the top-level export/ folder are well formed."""

import os
import re

import pytest
from fake_serving import REPO

EXPORT_DIR = os.path.join(REPO, "export")
# Fields of tensorflow_serving's BatchingParameters proto
# (session_bundle_config.proto).
BATCHING_FIELDS = {
    "max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
    "num_batch_threads", "thread_pool_name", "allowed_batch_sizes",
    "pad_variable_length_inputs",
}


def test_models_config_parses_as_a_model_server_config():
    config_pb2 = pytest.importorskip("tensorflow_serving.config.model_server_config_pb2")
    from google.protobuf import text_format

    with open(os.path.join(EXPORT_DIR, "models.config")) as f:
        config = text_format.Parse(f.read(), config_pb2.ModelServerConfig())
    entries = config.model_config_list.config
    assert [c.name for c in entries] == ["gpt1", "sst2"]
    assert all(c.model_platform == "tensorflow" for c in entries)


def test_batching_parameters_use_known_fields_and_end_at_the_max_batch_size():
    with open(os.path.join(EXPORT_DIR, "batching_parameters.txt")) as f:
        lines = [line.split("#")[0].strip() for line in f]
    fields = [re.match(r"(\w+)", line).group(1) for line in lines if line]
    assert set(fields) <= BATCHING_FIELDS
    text = "\n".join(lines)
    max_batch = int(re.search(r"max_batch_size \{ value: (\d+) \}", text).group(1))
    allowed = [int(v) for v in re.findall(r"allowed_batch_sizes: (\d+)", text)]
    assert allowed == sorted(allowed) and allowed[-1] == max_batch
