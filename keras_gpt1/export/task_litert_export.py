"""Export a fine-tuned `GPT1TaskModel` as a LiteRT bundle: one `.tflite`
(`TaskLiteRTModule`: token ids in, probabilities out, builtin ops only)
with the tokenizer files and `litert_config.json` beside it. The app
tokenizes and builds the paper's input sequences itself; the config holds
the special token ids, the task's layout and the label names."""

import os

from keras_gpt1.data.task_transforms import TASK_SEGMENTS
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.litert_bundle import MODEL_FILE
from keras_gpt1.export.litert_bundle import check_new_output
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_conversion import NO_QUANTIZATION
from keras_gpt1.export.litert_conversion import check_quantization
from keras_gpt1.export.litert_conversion import convert_module
from keras_gpt1.export.litert_export import special_token_ids
from keras_gpt1.export.saved_model_export import check_max_length
from keras_gpt1.export.task_litert_module import PADDING_MASK
from keras_gpt1.export.task_litert_module import SIGNATURE
from keras_gpt1.export.task_litert_module import TOKEN_IDS
from keras_gpt1.export.task_litert_module import TaskLiteRTModule

# How the app builds each sequence (paper §3.3); `s`, `$` and `e` are the
# start, delimiter and extract token ids of the config.
TASK_LAYOUTS = {
    "classification": ["[s; text; e]"],
    "regression": ["[s; text; e]"],
    "entailment": ["[s; premise; $; hypothesis; e]"],
    "similarity": ["[s; text_a; $; text_b; e]", "[s; text_b; $; text_a; e]"],
    "multiple_choice": ["[s; context; question; $; answer_k; e] for each answer k"],
}


def export_task_litert(model, output_dir, quantize=NO_QUANTIZATION, max_length=None):
    """Write a LiteRT bundle of `model` to `output_dir` (a new directory)."""
    check_quantization(quantize)
    if model.tokenizer is None:
        raise GPT1InputError(
            "the model has no tokenizer; a LiteRT bundle ships the "
            "tokenizer files beside the .tflite"
        )
    max_length = check_max_length(model, max_length)
    check_new_output(output_dir)
    module = TaskLiteRTModule(model)
    tflite_bytes = convert_module(module, module.concrete_functions(), quantize)
    config = {
        "task": model.task,
        "label_kind": model.label_kind,
        "label_names": model.label_names,
        "quantization": quantize,
        "signatures": {SIGNATURE: {"inputs": [TOKEN_IDS, PADDING_MASK],
                                   "outputs": module.output_names()}},
        "max_length": max_length,
        "text_inputs": list(TASK_SEGMENTS[model.task]),
        "sequences": TASK_LAYOUTS[model.task],
        "vocabulary_size": model.backbone.vocabulary_size,
        **special_token_ids(model.tokenizer),
    }
    config = write_bundle(output_dir, tflite_bytes, model.tokenizer, config)
    return dict(config, format="litert", path=os.path.join(output_dir, MODEL_FILE))
