"""Export a model as a versioned SavedModel for TF Serving.

    BASE/<version>/saved_model.pb
    BASE/<version>/variables/...
    BASE/<version>/assets.extra/tf_serving_warmup_requests
    BASE/<version>/assets.extra/gpt1_export.json   (what was exported)

TF Serving serves the highest numeric version under `BASE` and ignores
other names, so the version is written as a hidden temporary directory in
`BASE` and renamed to `<version>` when complete: the server never sees a
half-written version, and a failed export leaves nothing behind.
The graphs are traced without XLA (`jit_compile=False`): XLA-compiled
SavedModels do not load on TF Serving GPU.
"""

import os

import numpy as np
import tensorflow as tf

from keras_gpt1 import artifacts
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.warmup_requests import WARMUP_DIR
from keras_gpt1.export.warmup_requests import write_warmup_requests
from keras_gpt1.export.work_directory import make_work_directory

EXPORT_INFO_FILE = "gpt1_export.json"
DEFAULT_MODEL_NAME = "gpt1"
DEFAULT_MAX_NEW_TOKENS = 32
# Warm-up prompt: short, so loading a version stays quick.
WARMUP_PROMPT = "Hello world"


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


def check_max_length(model, max_length):
    """`max_length`, defaulting to the model's context, checked."""
    context = model.backbone.max_sequence_length
    if max_length is None:
        return context
    if not isinstance(max_length, int) or not 2 <= max_length <= context:
        raise GPT1InputError(
            f"max length must be between 2 and the model's context of "
            f"{context}; got {max_length}"
        )
    return max_length


def _directory_size(path):
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def write_saved_model(module, signatures, base_dir, version, info, warmup_requests,
                      model_name=DEFAULT_MODEL_NAME):
    """Save `module` with `signatures` as `base_dir/<version>` atomically.

    `warmup_requests`: `[(signature name, {input: array})]` for
    `assets.extra`. Returns the result dict (path, version, size, ...).
    """
    version = resolve_version(base_dir, version)
    created_base = not os.path.exists(base_dir)
    work_dir = make_work_directory(base_dir, str(version))
    version_dir = os.path.join(base_dir, str(version))
    try:
        tf.saved_model.save(module, work_dir, signatures=signatures)
        warmup_path = write_warmup_requests(work_dir, warmup_requests, model_name)
        info = dict(info, signatures=sorted(signatures), version=version)
        artifacts.write_json(os.path.join(work_dir, WARMUP_DIR, EXPORT_INFO_FILE), info)
        artifacts.publish_directory(work_dir, version_dir)
    except BaseException:
        artifacts.remove_tree(work_dir)
        if created_base and not os.listdir(base_dir):
            os.rmdir(base_dir)
        raise
    return dict(
        info,
        format="saved_model",
        path=version_dir,
        warmup_requests=os.path.relpath(warmup_path, work_dir),
        size_bytes=_directory_size(version_dir),
    )


def export_causal_lm_saved_model(model, base_dir, version=None,
                                 max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
                                 max_length=None, model_name=DEFAULT_MODEL_NAME):
    """Export a `GPT1CausalLM` with `serving_default` (strings -> greedy
    text) and `logits` (token ids -> logits). See
    `CausalLMServingModule`."""
    from keras_gpt1.export.causal_lm_serving_module import GENERATE_SIGNATURE
    from keras_gpt1.export.causal_lm_serving_module import LOGITS_SIGNATURE
    from keras_gpt1.export.causal_lm_serving_module import CausalLMServingModule

    if model.tokenizer is None:
        raise GPT1InputError(
            "the model has no tokenizer; a SavedModel for TF Serving "
            "tokenizes in the graph and needs one"
        )
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise GPT1InputError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
    max_length = check_max_length(model, max_length)
    module = CausalLMServingModule(model, max_new_tokens, max_length)
    warmup_ids = np.asarray(
        model.tokenizer([WARMUP_PROMPT])[0], "int32"
    )[np.newaxis, : max_length - 1]
    warmup = [
        (GENERATE_SIGNATURE, {"prompts": np.array([WARMUP_PROMPT], object)}),
        (LOGITS_SIGNATURE, {"token_ids": warmup_ids}),
    ]
    info = {
        "task": "causal_lm",
        "max_new_tokens": max_new_tokens,
        "max_length": max_length,
        "inputs": {GENERATE_SIGNATURE: ["prompts"], LOGITS_SIGNATURE: ["token_ids"]},
        "outputs": {
            GENERATE_SIGNATURE: ["completion", "num_new_tokens", "text"],
            LOGITS_SIGNATURE: ["logits"],
        },
    }
    return write_saved_model(
        module, module.signatures(), base_dir, version, info, warmup, model_name
    )
