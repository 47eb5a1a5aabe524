"""Stage 2 of the paper: supervised fine-tuning with `model.fit` (§3.2).

`finetune(FinetuneConfig(...))` loads a pre-trained model directory (its
backbone and tokenizer), reads the labelled files, builds a
`GPT1TaskModel` and fits it with the paper's recipe: AdamW at 6.25e-5,
batch 32, 3 epochs, linear warmup over 0.2% of the updates then linear
decay to 0, gradient clipping at 1.0, weight decay 0.01 (not on biases
and gains), classifier dropout 0.1, auxiliary LM loss weight λ = 0.5.
The output directory (`model.keras`, the tokenizer files, `summary.json`)
is written in a temporary directory beside it and renamed in one step.

`evaluate_task_model` and `predict_task_model` score and label new files
or strings with a fine-tuned model.
"""

import dataclasses
import math
import os
import tempfile
import time

import keras
import numpy as np

from keras_gpt1 import artifacts
from keras_gpt1.data.task_dataset import encode_table
from keras_gpt1.data.task_dataset import task_dataset
from keras_gpt1.data.task_files import read_task_file
from keras_gpt1.data.task_labels import CHOICE_LABELS
from keras_gpt1.data.task_labels import CLASS_LABELS
from keras_gpt1.data.task_labels import SCORE_LABELS
from keras_gpt1.data.task_labels import encode_labels
from keras_gpt1.data.task_labels import label_kind
from keras_gpt1.data.task_labels import label_names_of
from keras_gpt1.data.task_transforms import TASKS
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.models.gpt1_backbone import GPT1Backbone
from keras_gpt1.models.gpt1_task_model import CLASSIFIER_DROPOUT
from keras_gpt1.models.gpt1_task_model import GPT1TaskModel
from keras_gpt1.training import distribution
from keras_gpt1.training import metrics as task_metrics
from keras_gpt1.training import optimizer as gpt1_optimizer
from keras_gpt1.training.auxiliary_lm_loss import LM_LOSS_WEIGHT
from keras_gpt1.training.keras_strategy_fixes import build_from_spec
from keras_gpt1.training.keras_strategy_fixes import multi_worker_log_reduction
from keras_gpt1.training.precision import check_precision
from keras_gpt1.training.precision import rebuild_with_weights
from keras_gpt1.training.precision import with_loss_scaling
from keras_gpt1.training.pretrain import StopAtStep

# Paper §4.1, "Fine-tuning details".
FINETUNE_LEARNING_RATE = 6.25e-5
FINETUNE_BATCH_SIZE = 32
FINETUNE_EPOCHS = 3
WARMUP_FRACTION = 0.002  # "warmup over 0.2% of training"
EVALUATION_BATCH_SIZE = 64
HISTORY_FILE = "history.csv"
PLOT_FILE = "loss.png"


@dataclasses.dataclass
class FinetuneConfig:
    """Settings of one fine-tuning run (CLI flags map 1:1).

    `model` is a pre-trained model directory (`keras-gpt1 pretrain`
    output). `text_columns`, `label_column`, `choice_columns`: see
    `task_files.read_task_file`. `max_steps` caps the updates of
    `epochs` epochs. `max_length` defaults to the model's context.
    """

    model: str
    task: str
    train: str
    output: str
    validation: str = None
    text_columns: list = None
    label_column: str = None
    choice_columns: list = None
    regression: bool = False
    epochs: int = FINETUNE_EPOCHS
    max_steps: int = None
    batch_size: int = FINETUNE_BATCH_SIZE
    learning_rate: float = FINETUNE_LEARNING_RATE
    warmup_fraction: float = WARMUP_FRACTION
    weight_decay: float = gpt1_optimizer.WEIGHT_DECAY
    clipnorm: float = gpt1_optimizer.GLOBAL_CLIPNORM
    lm_loss_weight: float = LM_LOSS_WEIGHT
    dropout: float = CLASSIFIER_DROPOUT
    reinitialize: bool = False
    max_length: int = None
    seed: int = 0
    jit_compile: bool = None  # None: on, except mixed_bfloat16 on a CPU
    strategy: str = "auto"  # see training/distribution.py
    precision: str = "auto"  # see training/precision.py
    plot: bool = False  # write loss.png (training loss per epoch)
    verbose: int = 1

    def check(self):
        if self.task not in TASKS:
            raise GPT1InputError(
                f"unknown task '{self.task}'; choose one of {', '.join(TASKS)}"
            )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise GPT1InputError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise GPT1InputError(f"max_steps must be >= 1; got {self.max_steps}")
        if self.learning_rate <= 0:
            raise GPT1InputError(
                f"learning_rate must be > 0; got {self.learning_rate}"
            )
        if self.lm_loss_weight < 0:
            raise GPT1InputError(
                f"lm_loss_weight must be >= 0; got {self.lm_loss_weight}"
            )
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise GPT1InputError(
                f"warmup_fraction must be in [0, 1); got {self.warmup_fraction}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise GPT1InputError(f"dropout must be in [0, 1); got {self.dropout}")
        check_precision(self.precision)
        distribution.check_strategy(self.strategy)
        if os.path.exists(self.output):
            raise GPT1InputError(f"output already exists: {self.output}")


def load_pretrained(path):
    """`(backbone, tokenizer)` of a pre-trained model directory."""
    model = artifacts.load_model(path)
    if isinstance(model, GPT1Backbone):
        backbone, tokenizer = model, None
    else:
        backbone = getattr(model, "backbone", None)
        tokenizer = getattr(model, "tokenizer", None)
    if not isinstance(backbone, GPT1Backbone):
        raise GPT1InputError(f"{path} holds no GPT-1 backbone")
    if tokenizer is None:
        raise GPT1InputError(
            f"{path} has no tokenizer inside its model; fine-tuning needs one"
        )
    return backbone, tokenizer


def fresh_backbone(backbone, seed):
    """Same architecture, new random weights (the no-pre-training ablation)."""
    keras.utils.set_random_seed(seed)
    return GPT1Backbone.from_config(backbone.get_config())


def backbone_in_precision(backbone, precision):
    """`backbone`, or a copy with its weights computing in `precision`."""
    if precision == "float32":
        return backbone
    config = {**backbone.get_config(), "dtype": precision}
    return rebuild_with_weights(backbone, lambda: GPT1Backbone.from_config(config))


def _read(path, config, require_label=True):
    return read_task_file(
        path,
        config.task,
        text_columns=config.text_columns,
        label_column=config.label_column,
        choice_columns=config.choice_columns,
        require_label=require_label,
    )


def _columns(table):
    return {
        "text": table.text_columns,
        "label": table.label_column,
        "choices": table.choice_columns,
    }


def finetune(config):
    """Fine-tune, evaluate on `config.validation`, publish `config.output`.

    Returns the summary dict: `task`, `label_names`, `steps`, `epochs`,
    `train_loss` (mean of the last epoch, `L2 + λ L1`), `val_*` metrics
    (`val_accuracy`, `val_f1`, `val_matthews_correlation` for classes and
    answers; `val_pearson`, `val_spearman`, `val_mse` for scores),
    `train_examples`, `validation_examples`, the recipe and `output`.
    """
    config.check()
    placement = distribution.place(
        config.strategy, config.batch_size, config.precision, config.jit_compile)
    strategy, chief = placement.strategy, placement.chief
    per_replica_batch, jit_compile = placement.per_replica_batch, placement.jit_compile
    config = dataclasses.replace(config, precision=placement.precision)
    with strategy.scope():
        backbone, tokenizer = load_pretrained(config.model)
    context = backbone.max_sequence_length
    max_length = config.max_length or context
    if not 1 <= max_length <= context:
        raise GPT1InputError(
            f"max_length must be in [1, {context}] (the context); got {max_length}"
        )
    kind = label_kind(config.task, config.regression)

    train_table = _read(config.train, config)
    label_names = label_names_of(train_table) if kind == CLASS_LABELS else None
    if kind == CLASS_LABELS and len(label_names) < 2:
        raise GPT1InputError(
            f"{config.train}: column '{train_table.label_column}': one label "
            f"only ({label_names[0]}); classification needs at least 2"
        )
    train_labels = encode_labels(train_table, kind, label_names)
    train_encoded = encode_table(train_table, tokenizer, max_length)
    validation_table = validation_labels = validation_encoded = None
    if config.validation:
        validation_table = _read(config.validation, config)
        validation_labels = encode_labels(validation_table, kind, label_names)
        validation_encoded = encode_table(validation_table, tokenizer, max_length)

    def build_task_model(backbone):
        return GPT1TaskModel(
            backbone,
            config.task,
            label_names=label_names,
            regression=config.regression,
            tokenizer=tokenizer,
            lm_loss_weight=config.lm_loss_weight,
            dropout=config.dropout,
        )

    steps_per_epoch = math.ceil(len(train_table) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    warmup_steps = int(round(config.warmup_fraction * total_steps))
    with strategy.scope():
        if config.reinitialize:
            backbone = fresh_backbone(backbone, config.seed)
        keras.utils.set_random_seed(config.seed)
        model = build_task_model(backbone_in_precision(backbone, config.precision))
        schedule = gpt1_optimizer.WarmupLinearDecay(
            config.learning_rate, warmup_steps, total_steps
        )
        optimizer = gpt1_optimizer.make_optimizer(
            model, schedule, config.weight_decay, config.clipnorm
        )
        model.compile(optimizer=with_loss_scaling(optimizer, config.precision),
                      jit_compile=jit_compile)

    def train_fn(context):
        return task_dataset(
            train_encoded, tokenizer, max_length, per_replica_batch,
            labels=train_labels, shuffle=True, seed=config.seed, repeat=True,
            num_shards=context.num_input_pipelines,
            shard_index=context.input_pipeline_id,
        )

    train = distribution.distribute_dataset(strategy, train_fn)
    build_from_spec(model, train_fn)
    start = time.time()
    with multi_worker_log_reduction(strategy):
        history = model.fit(
            train,
            epochs=math.ceil(total_steps / steps_per_epoch),
            steps_per_epoch=steps_per_epoch,
            callbacks=[StopAtStep(total_steps)],
            shuffle=False,  # the dataset reshuffles itself, reproducibly
            verbose=config.verbose if chief else 0,
        )
    seconds = time.time() - start

    summary = {
        "task": config.task,
        "label_names": label_names,
        "regression": kind == SCORE_LABELS,
        "steps": int(model.optimizer.iterations.numpy()),
        "epochs": len(history.history.get("loss", [])),
        "train_loss": float(history.history["loss"][-1]),
        "train_examples": len(train_table),
        "validation_examples": 0 if validation_table is None else len(validation_table),
        "lm_loss_weight": config.lm_loss_weight,
        "reinitialized": config.reinitialize,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "warmup_steps": warmup_steps,
        "max_length": max_length,
        "seconds": seconds,
        "parameters": int(model.count_params()),
        "pretrained_model": os.path.abspath(config.model),
        "columns": _columns(train_table),
        "output": os.path.abspath(config.output),
        "strategy": distribution.strategy_name(strategy),
        "replicas": int(strategy.num_replicas_in_sync),
        "precision": config.precision,
        "jit_compile": bool(model.jit_compile),
    }
    if not chief:  # the chief scores and writes the output
        return summary
    if placement.needs_plain_copy:
        model = rebuild_with_weights(model, lambda: build_task_model(
            GPT1Backbone.from_config({**backbone.get_config(), "dtype": "float32"})))
    if validation_encoded is not None:
        outputs = _predict_dataset(model, validation_encoded, tokenizer, max_length)
        for name, value in score_predictions(model, outputs, validation_labels).items():
            summary[f"val_{name}"] = value
    history_csv = None
    if config.plot:
        summary["plot"] = os.path.join(os.path.abspath(config.output), PLOT_FILE)
        history_csv = history.history
    _publish(model, tokenizer, summary, config.output, history_csv)
    return summary


def _publish(model, tokenizer, summary, output, history=None):
    """Write the model directory beside `output`, then rename it there
    (with `history.csv` and `loss.png` when `history` is given)."""
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(
        prefix=f".{os.path.basename(os.path.abspath(output))}.", suffix=".partial",
        dir=parent,
    )
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)  # mkdtemp makes it private
    try:
        artifacts.save_model_file(model, os.path.join(work, artifacts.MODEL_FILE))
        if hasattr(tokenizer, "save_to_directory"):
            tokenizer.save_to_directory(work)
        if history:
            _write_history(history, work)
        artifacts.write_json(os.path.join(work, artifacts.SUMMARY_FILE), summary)
        artifacts.publish_directory(work, output)
    finally:
        artifacts.remove_tree(work)


def _write_history(history, work):
    """`history.csv` (epoch, loss) and its `loss.png`."""
    import csv

    from keras_gpt1.plots import plot_history

    path = os.path.join(work, HISTORY_FILE)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss"])
        for epoch, loss in enumerate(history["loss"], start=1):
            writer.writerow([epoch, loss])
    plot_history(path, os.path.join(work, PLOT_FILE), title="Fine-tuning (L2 + λ·L1)",
                 perplexity=False)


# === Using a fine-tuned model ===


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
    import json

    summary = os.path.join(path, artifacts.SUMMARY_FILE)
    if not os.path.isfile(summary):
        return {}
    with open(summary, encoding="utf-8") as f:
        return json.load(f).get("columns", {})


def _predict_dataset(model, encoded, tokenizer, max_length):
    dataset = task_dataset(encoded, tokenizer, max_length, EVALUATION_BATCH_SIZE)
    return np.asarray(model.predict(dataset, verbose=0))


def score_predictions(model, outputs, labels):
    """Metrics of model `outputs` against encoded `labels`."""
    if model.label_kind == SCORE_LABELS:
        return task_metrics.regression_metrics(labels, outputs)
    return task_metrics.classification_metrics(labels, outputs)


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


def evaluate_task_model(model, table):
    """Metrics of `model` on a labelled `TaskTable`, plus `examples`."""
    labels = encode_labels(table, model.label_kind, model.label_names)
    max_length = model.backbone.max_sequence_length
    encoded = encode_table(table, model.tokenizer, max_length)
    outputs = _predict_dataset(model, encoded, model.tokenizer, max_length)
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
    encoded = encode_table(table, model.tokenizer, max_length)
    outputs = _predict_dataset(model, encoded, model.tokenizer, max_length)
    predictions = []
    if model.label_kind == SCORE_LABELS:
        return [{"score": float(v)} for v in outputs.reshape(-1)]
    probabilities = _softmax(outputs.astype(np.float64))
    for i, p in enumerate(probabilities):
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
