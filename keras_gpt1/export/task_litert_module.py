"""The on-device interface of a fine-tuned `GPT1TaskModel`: one
`serving_default` signature over token ids (tokenization and the paper's
input transformations run in the app, with the tokenizer files shipped
beside the `.tflite`).

Inputs: `token_ids` and `padding_mask`, int32 `(batch, num_sequences,
seq_len)`; every dimension is dynamic (resize the inputs before running),
`seq_len` at most the exported maximum length, sequences right-padded
(`padding_mask` 1 on real tokens). Outputs: `logits` float32 and, for
classes and multiple choice, `probabilities` (softmax of the logits), or,
for regression, `score` `(batch,)`.
"""

import tensorflow as tf

from keras_gpt1.data.task_labels import SCORE_LABELS
from keras_gpt1.export.trackables import attach_untracked
from keras_gpt1.export.trackables import model_variables

SIGNATURE = "serving_default"
TOKEN_IDS = "token_ids"
PADDING_MASK = "padding_mask"


class TaskLiteRTModule(tf.Module):
    """Wraps `model` (a `GPT1TaskModel`) as one LiteRT signature."""

    def __init__(self, model):
        super().__init__(name="gpt1_task_litert")
        attach_untracked(self, "model", model)
        self.model_variables = model_variables(model)

    def _run(self, token_ids, padding_mask):
        logits = self.model(
            {TOKEN_IDS: token_ids, PADDING_MASK: padding_mask}, training=False
        )
        if self.model.label_kind == SCORE_LABELS:
            return {"logits": logits, "score": logits[:, 0]}
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}

    def output_names(self):
        if self.model.label_kind == SCORE_LABELS:
            return ["logits", "score"]
        return ["logits", "probabilities"]

    def concrete_functions(self):
        specs = [
            tf.TensorSpec([None, None, None], tf.int32, name=TOKEN_IDS),
            tf.TensorSpec([None, None, None], tf.int32, name=PADDING_MASK),
        ]
        fn = tf.function(self._run, input_signature=specs, jit_compile=False,
                         autograph=False)
        return {SIGNATURE: fn.get_concrete_function()}
