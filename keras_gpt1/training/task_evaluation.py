"""Using a fine-tuned task model: load it, score it on a labelled file,
label new rows. `finetune` scores its validation file with the same code.
"""

import json
import os

import numpy as np

from keras_gpt1 import artifacts
from keras_gpt1.data.task_dataset import encode_table
from keras_gpt1.data.task_dataset import task_dataset
from keras_gpt1.data.task_files import read_task_file
from keras_gpt1.data.task_labels import encode_labels
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.models.gpt1_task_model import GPT1TaskModel
from keras_gpt1.tasks import CHOICE_LABELS
from keras_gpt1.tasks import SCORE_LABELS
from keras_gpt1.training import metrics as task_metrics

EVALUATION_BATCH_SIZE = 64


def load_task_model(path):
    """A `GPT1TaskModel` from a fine-tuned model directory (or `.keras`)."""
    model = artifacts.load_model(path)
    if not isinstance(model, GPT1TaskModel):
        raise GPT1InputError(
            f"{path} is not a fine-tuned task model (it holds a "
            f"{type(model).__name__}); fine-tune it with `keras-gpt1 finetune`"
        )
    if model.tokenizer is None:
        raise GPT1InputError(f"{path}: the task model has no tokenizer")
    return model


def saved_columns(path):
    """The columns a fine-tuned model was trained on (from summary.json)."""
    summary = os.path.join(path, artifacts.SUMMARY_FILE)
    if not os.path.isfile(summary):
        return {}
    with open(summary, encoding="utf-8") as f:
        return json.load(f).get("columns", {})


def read_for_model(model, path, text_columns=None, label_column=None,
                   choice_columns=None, require_label=True):
    """Read a file with the columns given (or those of training)."""
    return read_task_file(
        path,
        model.task,
        text_columns=text_columns,
        label_column=label_column,
        choice_columns=choice_columns,
        require_label=require_label,
    )


def predict_encoded(model, encoded, max_length):
    """Model outputs (logits or scores) for an `EncodedTable`."""
    dataset = task_dataset(encoded, model.tokenizer, max_length, EVALUATION_BATCH_SIZE)
    return np.asarray(model.predict(dataset, verbose=0))


def score_predictions(model, outputs, labels):
    """Metrics of model `outputs` against encoded `labels`."""
    if model.label_kind == SCORE_LABELS:
        return task_metrics.regression_metrics(labels, outputs)
    return task_metrics.classification_metrics(labels, outputs)


def evaluate_task_model(model, table):
    """Metrics of `model` on a labelled `TaskTable`, plus `examples`."""
    labels = encode_labels(table, model.label_kind, model.label_names)
    max_length = model.backbone.max_sequence_length
    outputs = predict_encoded(model, encode_table(table, model.tokenizer, max_length),
                              max_length)
    result = score_predictions(model, outputs, labels)
    result["examples"] = len(table)
    return result


def _softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def predict_task_model(model, table):
    """One prediction dict per row of `table`.

    Classes: `{"label", "probabilities": {name: p}}`; scores: `{"score"}`;
    multiple choice: `{"choice" (0-based index), "answer", "probabilities"}`.
    """
    max_length = model.backbone.max_sequence_length
    outputs = predict_encoded(model, encode_table(table, model.tokenizer, max_length),
                              max_length)
    if model.label_kind == SCORE_LABELS:
        return [{"score": float(v)} for v in outputs.reshape(-1)]
    predictions = []
    for i, p in enumerate(_softmax(outputs.astype(np.float64))):
        best = int(np.argmax(p))
        if model.label_kind == CHOICE_LABELS:
            predictions.append({
                "choice": best,
                "answer": table.choices[i][best],
                "probabilities": [float(x) for x in p],
            })
        else:
            predictions.append({
                "label": model.label_names[best],
                "probabilities": {
                    name: float(x) for name, x in zip(model.label_names, p)
                },
            })
    return predictions
