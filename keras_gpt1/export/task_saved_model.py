"""A fine-tuned `GPT1TaskModel` for TF Serving: raw strings in,
predictions out, with tokenization and the paper's input transformations
in the graph (traced without XLA), as a versioned SavedModel
(`saved_model_writer.py`).

`serving_default` inputs are the task's text segments, tf.string
`(batch,)` each, named as in `tasks.TASK_SEGMENTS`: `text`; `premise`,
`hypothesis`; `text_a`, `text_b`; or `context`, `question` and `answers`
`(batch, num_choices)`. Outputs, by kind of label (`signatures.py`):

- classes: `probabilities` float32 `(batch, num_classes)`, `label`
  tf.string `(batch,)` (the most probable class) and `label_names`
  tf.string `(batch, num_classes)` (the same names on every row, so every
  output keeps the batch dimension that TF Serving's batching splits on);
- score: `score` float32 `(batch,)`;
- choice: `probabilities` `(batch, num_choices)` and `choice` int32
  `(batch,)`, the 0-based index of the best answer.

Every kind also returns `logits`. The `logits` signature takes the model's
own inputs, `token_ids` and `padding_mask` int32 `(batch, num_sequences,
seq_len)`.
"""

import numpy as np
import tensorflow as tf

from keras_gpt1.data.task_transforms import SpecialTokenIds
from keras_gpt1.data.task_transforms import pad_sequences
from keras_gpt1.data.task_transforms import task_sequences
from keras_gpt1.data.task_transforms import tokenize
from keras_gpt1.export.export_module import ExportModule
from keras_gpt1.export.export_module import check_max_length
from keras_gpt1.export.export_module import checked_token_ids
from keras_gpt1.export.export_module import require_tokenizer
from keras_gpt1.export.saved_model_writer import DEFAULT_MODEL_NAME
from keras_gpt1.export.saved_model_writer import WARMUP_PROMPT
from keras_gpt1.export.saved_model_writer import write_saved_model
from keras_gpt1.export.signatures import LOGITS
from keras_gpt1.export.signatures import LOGITS_SIGNATURE
from keras_gpt1.export.signatures import PADDING_MASK
from keras_gpt1.export.signatures import SERVING_DEFAULT
from keras_gpt1.export.signatures import TOKEN_IDS
from keras_gpt1.export.signatures import task_output_names
from keras_gpt1.export.signatures import task_outputs
from keras_gpt1.tasks import ANSWERS
from keras_gpt1.tasks import MULTIPLE_CHOICE
from keras_gpt1.tasks import TASK_SEGMENTS
from keras_gpt1.tasks import text_inputs

# Answers of the multiple-choice warm-up request.
WARMUP_ANSWERS = ("yes", "no")


class TaskServingModule(ExportModule):
    """Wraps `model` (a `GPT1TaskModel` with a tokenizer) for TF Serving.

    Args:
        model: the Keras model.
        max_length: tokens per transformed sequence (at most the context);
            longer inputs are truncated as in training.
    """

    def __init__(self, model, max_length):
        super().__init__(model, name="gpt1_task_serving", with_tokenizer=True)
        self.max_length = int(max_length)

    def _model_inputs(self, texts):
        """String tensors -> padded model inputs, as `task_inputs` does,
        but with one tokenizer call for all segments (one BPE graph in the
        SavedModel instead of one per input)."""
        model = self.model
        texts = list(texts)
        answers = texts.pop() if model.task == MULTIPLE_CHOICE else None
        batch_size = tf.shape(texts[0])[0]
        strings = list(texts)
        if answers is not None:
            strings.append(tf.reshape(answers, [-1]))
        ids = tokenize(model.tokenizer, tf.concat(strings, axis=0))
        segments = [ids[i * batch_size:(i + 1) * batch_size] for i in range(len(texts))]
        answer_ids = None
        if answers is not None:
            answer_ids = tf.RaggedTensor.from_uniform_row_length(
                ids[len(texts) * batch_size:], tf.shape(answers, out_type=tf.int64)[1]
            )
        special = SpecialTokenIds.from_tokenizer(model.tokenizer)
        sequences = task_sequences(
            model.task, segments, special, self.max_length, answer_ids
        )
        return pad_sequences(sequences, special.pad, self.max_length)

    def _predict(self, texts):
        model = self.model
        logits = model(self._model_inputs(texts), training=False)
        return task_outputs(model.label_kind, logits, model.label_names, serving=True)

    def _logits(self, token_ids, padding_mask):
        vocabulary_size = int(self.model.backbone.vocabulary_size)
        inputs = {TOKEN_IDS: checked_token_ids(token_ids, vocabulary_size),
                  PADDING_MASK: padding_mask}
        return {LOGITS: self.model(inputs, training=False)}

    def signatures(self):
        specs = [
            tf.TensorSpec([None], tf.string, name=name)
            for name in TASK_SEGMENTS[self.model.task]
        ]
        if self.model.task == MULTIPLE_CHOICE:
            specs.append(tf.TensorSpec([None, None], tf.string, name=ANSWERS))
        predict = tf.function(
            lambda *texts: self._predict(texts),
            input_signature=specs,
            jit_compile=False,
        )
        ids_spec = [
            tf.TensorSpec([None, None, None], tf.int32, name=TOKEN_IDS),
            tf.TensorSpec([None, None, None], tf.int32, name=PADDING_MASK),
        ]
        logits = tf.function(self._logits, input_signature=ids_spec, jit_compile=False)
        return {
            SERVING_DEFAULT: predict.get_concrete_function(),
            LOGITS_SIGNATURE: logits.get_concrete_function(),
        }


def export_task_saved_model(model, base_dir, version=None, max_length=None,
                            model_name=DEFAULT_MODEL_NAME):
    """Write `base_dir/<version>/` for TF Serving; returns a summary dict."""
    require_tokenizer(model, "a SavedModel for TF Serving tokenizes in the graph "
                      "and needs one")
    max_length = check_max_length(model, max_length)
    module = TaskServingModule(model, max_length)
    names = text_inputs(model.task)
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
        "inputs": {SERVING_DEFAULT: names,
                   LOGITS_SIGNATURE: [PADDING_MASK, TOKEN_IDS]},
        "outputs": {SERVING_DEFAULT: task_output_names(model.label_kind, serving=True),
                    LOGITS_SIGNATURE: [LOGITS]},
    }
    warmup = [(SERVING_DEFAULT, warmup_inputs)]
    return write_saved_model(module, base_dir, version, info, warmup, model_name)
