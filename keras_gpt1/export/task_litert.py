"""A fine-tuned `GPT1TaskModel` for devices: a LiteRT bundle whose
`.tflite` has one `serving_default` signature over token ids, builtin ops
only. The app tokenizes and builds the paper's input sequences itself
(the tokenizer files ship beside the `.tflite`); `litert_config.json`
holds the special token ids, the task's layout and the label names.

Inputs: `token_ids` and `padding_mask`, int32 `(batch, num_sequences,
seq_len)`; every dimension is dynamic (resize the inputs before running),
`seq_len` at most the exported maximum length, sequences right-padded
(`padding_mask` 1 on real tokens). Outputs (`signatures.TASK_OUTPUTS`):
`logits` float32 and, for classes and multiple choice, `probabilities`
(softmax of the logits), or, for regression, `score` `(batch,)`.
"""

import os

import tensorflow as tf

from keras_gpt1 import artifacts
from keras_gpt1.export.export_module import ExportModule
from keras_gpt1.export.export_module import check_max_length
from keras_gpt1.export.export_module import require_tokenizer
from keras_gpt1.export.litert_bundle import MODEL_FILE
from keras_gpt1.export.litert_bundle import special_token_ids
from keras_gpt1.export.litert_bundle import write_bundle
from keras_gpt1.export.litert_conversion import NO_QUANTIZATION
from keras_gpt1.export.litert_conversion import check_quantization
from keras_gpt1.export.litert_conversion import convert_module
from keras_gpt1.export.signatures import PADDING_MASK
from keras_gpt1.export.signatures import SERVING_DEFAULT
from keras_gpt1.export.signatures import TOKEN_IDS
from keras_gpt1.export.signatures import task_output_names
from keras_gpt1.export.signatures import task_outputs
from keras_gpt1.tasks import TASK_SEGMENTS

# How the app builds each sequence (paper §3.3); `s`, `$` and `e` are the
# start, delimiter and extract token ids of the config.
TASK_LAYOUTS = {
    "classification": ["[s; text; e]"],
    "regression": ["[s; text; e]"],
    "entailment": ["[s; premise; $; hypothesis; e]"],
    "similarity": ["[s; text_a; $; text_b; e]", "[s; text_b; $; text_a; e]"],
    "multiple_choice": ["[s; context; question; $; answer_k; e] for each answer k"],
}


class TaskLiteRTModule(ExportModule):
    """Wraps `model` (a `GPT1TaskModel`) as one LiteRT signature."""

    def __init__(self, model):
        super().__init__(model, name="gpt1_task_litert")

    def _run(self, token_ids, padding_mask):
        logits = self.model(
            {TOKEN_IDS: token_ids, PADDING_MASK: padding_mask}, training=False
        )
        return task_outputs(self.model.label_kind, logits)

    def signatures(self):
        specs = [
            tf.TensorSpec([None, None, None], tf.int32, name=TOKEN_IDS),
            tf.TensorSpec([None, None, None], tf.int32, name=PADDING_MASK),
        ]
        fn = tf.function(self._run, input_signature=specs, jit_compile=False,
                         autograph=False)
        return {SERVING_DEFAULT: fn.get_concrete_function()}


def export_task_litert(model, output_dir, quantize=NO_QUANTIZATION, max_length=None):
    """Write a LiteRT bundle of `model` to `output_dir` (a new directory)."""
    check_quantization(quantize)
    require_tokenizer(model, "a LiteRT bundle ships the tokenizer files beside "
                      "the .tflite")
    max_length = check_max_length(model, max_length)
    artifacts.check_new_output(output_dir)
    tflite_bytes = convert_module(TaskLiteRTModule(model), quantize)
    config = {
        "task": model.task,
        "label_kind": model.label_kind,
        "label_names": model.label_names,
        "quantization": quantize,
        "signatures": {SERVING_DEFAULT: {
            "inputs": [TOKEN_IDS, PADDING_MASK],
            "outputs": task_output_names(model.label_kind),
        }},
        "max_length": max_length,
        "text_inputs": list(TASK_SEGMENTS[model.task]),
        "sequences": TASK_LAYOUTS[model.task],
        "vocabulary_size": model.backbone.vocabulary_size,
        **special_token_ids(model.tokenizer),
    }
    config = write_bundle(output_dir, tflite_bytes, model.tokenizer, config)
    return dict(config, format="litert", path=os.path.join(output_dir, MODEL_FILE))
