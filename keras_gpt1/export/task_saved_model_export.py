"""Export a fine-tuned `GPT1TaskModel` as a versioned SavedModel for TF
Serving (layout and atomic write: `saved_model_export`; signatures:
`TaskServingModule`)."""

import numpy as np

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.saved_model_export import DEFAULT_MODEL_NAME
from keras_gpt1.export.saved_model_export import WARMUP_PROMPT
from keras_gpt1.export.saved_model_export import check_max_length
from keras_gpt1.export.saved_model_export import write_saved_model
from keras_gpt1.export.task_serving_module import ANSWERS
from keras_gpt1.export.task_serving_module import LOGITS_SIGNATURE
from keras_gpt1.export.task_serving_module import PREDICT_SIGNATURE
from keras_gpt1.export.task_serving_module import TaskServingModule
from keras_gpt1.export.task_serving_module import serving_input_names

# Answers of the multiple-choice warm-up request.
WARMUP_ANSWERS = ("yes", "no")


def task_outputs(model):
    """Output names of `serving_default` for the model's kind of label."""
    from keras_gpt1.data.task_labels import CHOICE_LABELS
    from keras_gpt1.data.task_labels import CLASS_LABELS

    if model.label_kind == CLASS_LABELS:
        return ["label", "label_names", "logits", "probabilities"]
    if model.label_kind == CHOICE_LABELS:
        return ["choice", "logits", "probabilities"]
    return ["logits", "score"]


def export_task_saved_model(model, base_dir, version=None, max_length=None,
                            model_name=DEFAULT_MODEL_NAME):
    """Write `base_dir/<version>/` for TF Serving; returns a summary dict."""
    if model.tokenizer is None:
        raise GPT1InputError(
            "the model has no tokenizer; a SavedModel for TF Serving "
            "tokenizes in the graph and needs one"
        )
    max_length = check_max_length(model, max_length)
    module = TaskServingModule(model, max_length)
    names = serving_input_names(model.task)
    warmup_inputs = {
        name: (np.array([WARMUP_ANSWERS], object) if name == ANSWERS
               else np.array([WARMUP_PROMPT], object))
        for name in names
    }
    info = {
        "task": model.task,
        "label_kind": model.label_kind,
        "label_names": model.label_names,
        "max_length": max_length,
        "inputs": {PREDICT_SIGNATURE: names,
                   LOGITS_SIGNATURE: ["padding_mask", "token_ids"]},
        "outputs": {PREDICT_SIGNATURE: task_outputs(model),
                    LOGITS_SIGNATURE: ["logits"]},
    }
    warmup = [(PREDICT_SIGNATURE, warmup_inputs)]
    return write_saved_model(
        module, module.signatures(), base_dir, version, info, warmup, model_name
    )
