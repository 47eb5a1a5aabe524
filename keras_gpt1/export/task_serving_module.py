"""The TF Serving interface of a fine-tuned `GPT1TaskModel`: raw strings
in, predictions out, with tokenization and the paper's input
transformations in the graph (traced without XLA).

`serving_default` inputs are the task's text segments, tf.string
`(batch,)` each, named as in `TASK_SEGMENTS`: `text`; `premise`,
`hypothesis`; `text_a`, `text_b`; or `context`, `question` and `answers`
`(batch, num_choices)`. Outputs, by kind of label:

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

import tensorflow as tf

from keras_gpt1.data.task_labels import CHOICE_LABELS
from keras_gpt1.data.task_labels import CLASS_LABELS
from keras_gpt1.data.task_transforms import MULTIPLE_CHOICE
from keras_gpt1.data.task_transforms import TASK_SEGMENTS
from keras_gpt1.data.task_transforms import SpecialTokenIds
from keras_gpt1.data.task_transforms import pad_sequences
from keras_gpt1.data.task_transforms import task_sequences
from keras_gpt1.data.task_transforms import tokenize
from keras_gpt1.export.serving_ops import serving_ops
from keras_gpt1.export.trackables import attach_untracked
from keras_gpt1.export.trackables import model_variables
from keras_gpt1.export.trackables import tokenizer_tables

PREDICT_SIGNATURE = "serving_default"
LOGITS_SIGNATURE = "logits"
ANSWERS = "answers"


def serving_input_names(task):
    names = list(TASK_SEGMENTS[task])
    if task == MULTIPLE_CHOICE:
        names.append(ANSWERS)
    return names


def prediction_outputs(label_kind, logits, label_names=None):
    """Model logits -> the output dict described in the module docstring."""
    outputs = {"logits": logits}
    if label_kind == CLASS_LABELS:
        probabilities = tf.nn.softmax(logits, axis=-1)
        names = tf.constant(label_names, tf.string)
        best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        batch_size = tf.shape(logits)[0]
        outputs.update(
            probabilities=probabilities,
            label=tf.gather(names, best),
            label_names=tf.tile(names[tf.newaxis, :], [batch_size, 1]),
        )
    elif label_kind == CHOICE_LABELS:
        probabilities = tf.nn.softmax(logits, axis=-1)
        outputs.update(
            probabilities=probabilities,
            choice=tf.argmax(probabilities, axis=-1, output_type=tf.int32),
        )
    else:
        outputs["score"] = logits[:, 0]
    return outputs


class TaskServingModule(tf.Module):
    """Wraps `model` (a `GPT1TaskModel` with a tokenizer) for TF Serving.

    Args:
        model: the Keras model.
        max_length: tokens per transformed sequence (at most the context);
            longer inputs are truncated as in training.
    """

    def __init__(self, model, max_length):
        super().__init__(name="gpt1_task_serving")
        attach_untracked(self, "model", model)
        self.model_variables = model_variables(model)
        self.tables = tokenizer_tables(model.tokenizer)
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
        return prediction_outputs(model.label_kind, logits, model.label_names)

    def _logits(self, token_ids, padding_mask):
        # An embedding lookup reads zeros (GPU) or wraps around (negative
        # ids) without complaint, so ids from outside are checked here.
        vocabulary_size = int(self.model.backbone.vocabulary_size)
        checks = [
            tf.debugging.assert_non_negative(
                token_ids, message="token id out of range (negative)"
            ),
            tf.debugging.assert_less(
                token_ids,
                vocabulary_size,
                message=f"token id out of range [0, {vocabulary_size})",
            ),
        ]
        with tf.control_dependencies(checks):
            token_ids = tf.identity(token_ids)
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        return {"logits": self.model(inputs, training=False)}

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
            tf.TensorSpec([None, None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, None, None], tf.int32, name="padding_mask"),
        ]
        logits = tf.function(self._logits, input_signature=ids_spec, jit_compile=False)
        with serving_ops():
            return {
                PREDICT_SIGNATURE: predict.get_concrete_function(),
                LOGITS_SIGNATURE: logits.get_concrete_function(),
            }
