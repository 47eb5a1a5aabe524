"""Stage 2 of the paper: supervised fine-tuning with `model.fit` (§3.2).

`finetune(FinetuneConfig(...))` loads a pre-trained model directory (its
backbone and tokenizer), reads the labelled files, builds a
`GPT1TaskModel` and fits it with the paper's recipe: AdamW at 6.25e-5,
batch 32, 3 epochs, linear warmup over 0.2% of the updates then linear
decay to 0, gradient clipping at 1.0, weight decay 0.01 (not on biases
and gains), classifier dropout 0.1, auxiliary LM loss weight λ = 0.5.
The output directory (`model.keras`, the tokenizer files, `summary.json`)
is written in a temporary directory beside it and renamed in one step.
Scoring and labelling with the result: `task_evaluation.py`.
"""

import csv
import dataclasses
import math
import os
import sys

import keras

from keras_gpt1 import artifacts
from keras_gpt1 import hyperparameters as paper
from keras_gpt1.data.task_dataset import encode_table
from keras_gpt1.data.task_dataset import task_dataset
from keras_gpt1.data.task_files import read_task_file
from keras_gpt1.data.task_labels import encode_labels
from keras_gpt1.data.task_labels import label_names_of
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.models.gpt1_backbone import GPT1Backbone
from keras_gpt1.models.gpt1_task_model import GPT1TaskModel
from keras_gpt1.optimizers import WarmupLinearDecay
from keras_gpt1.tasks import CLASS_LABELS
from keras_gpt1.tasks import SCORE_LABELS
from keras_gpt1.tasks import TASKS
from keras_gpt1.tasks import label_kind
from keras_gpt1.training.callbacks import StopAtStep
from keras_gpt1.training.precision import rebuild_with_weights
from keras_gpt1.training.task_evaluation import predict_encoded
from keras_gpt1.training.task_evaluation import score_predictions
from keras_gpt1.training.training_run import TrainingRun
from keras_gpt1.training.training_run import check_settings

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
    epochs: int = paper.FINETUNE_EPOCHS
    max_steps: int = None
    batch_size: int = paper.FINETUNE_BATCH_SIZE
    learning_rate: float = None  # None: paper.finetune_learning_rate(width)
    warmup_fraction: float = paper.FINETUNE_WARMUP_FRACTION
    weight_decay: float = paper.WEIGHT_DECAY
    clipnorm: float = paper.GLOBAL_CLIPNORM
    lm_loss_weight: float = paper.LM_LOSS_WEIGHT
    dropout: float = paper.CLASSIFIER_DROPOUT
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
        if self.lm_loss_weight < 0:
            raise GPT1InputError(
                f"lm_loss_weight must be >= 0; got {self.lm_loss_weight}"
            )
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise GPT1InputError(
                f"warmup_fraction must be in [0, 1); got {self.warmup_fraction}"
            )
        check_settings(self, ("epochs", "batch_size", "max_steps"))
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


@dataclasses.dataclass
class TaskData:
    """The labelled files of a run, tokenized (`EncodedTable`s) with their
    encoded labels; `validation` is None without a validation file."""

    train_table: object
    label_names: list
    train: object
    train_labels: object
    validation_table: object = None
    validation: object = None
    validation_labels: object = None


def read_task_data(config, tokenizer, max_length):
    """Read, label-encode and tokenize `config.train` (and `validation`)."""
    kind = label_kind(config.task, config.regression)
    train_table = _read(config.train, config)
    label_names = label_names_of(train_table) if kind == CLASS_LABELS else None
    if kind == CLASS_LABELS and len(label_names) < 2:
        raise GPT1InputError(
            f"{config.train}: column '{train_table.label_column}': one label "
            f"only ({label_names[0]}); classification needs at least 2"
        )
    data = TaskData(
        train_table=train_table,
        label_names=label_names,
        train=encode_table(train_table, tokenizer, max_length),
        train_labels=encode_labels(train_table, kind, label_names),
    )
    if config.validation:
        data.validation_table = _read(config.validation, config)
        data.validation_labels = encode_labels(data.validation_table, kind, label_names)
        data.validation = encode_table(data.validation_table, tokenizer, max_length)
    return data


def finetune(config, callbacks=None):
    """Fine-tune, evaluate on `config.validation`, publish `config.output`.
    `callbacks` are added to the run's own.

    Returns the summary dict: `task`, `label_names`, `steps`, `epochs`,
    `train_loss` (mean of the last epoch, `L2 + λ L1`), `val_*` metrics
    (`val_accuracy`, `val_f1`, `val_matthews_correlation` for classes and
    answers; `val_pearson`, `val_spearman`, `val_mse` for scores),
    `train_examples`, `validation_examples`, the recipe and `output`.
    """
    config.check()
    if keras.backend.backend() != "tensorflow":
        raise GPT1InputError(
            "finetune runs on the TensorFlow backend (the paper's input "
            "transformations are tf.data ops); pretrain, generate and the models "
            f"run on {keras.backend.backend()}")
    run = TrainingRun(config.strategy, config.batch_size, config.precision,
                      config.jit_compile)
    config = dataclasses.replace(config, precision=run.precision)
    with run.placement.scope():
        backbone, tokenizer = load_pretrained(config.model)
    context = backbone.max_sequence_length
    max_length = config.max_length or context
    if not 1 <= max_length <= context:
        raise GPT1InputError(
            f"max_length must be in [1, {context}] (the context); got {max_length}"
        )
    data = read_task_data(config, tokenizer, max_length)
    learning_rate_rule = config.learning_rate is None
    if learning_rate_rule:
        config = dataclasses.replace(
            config, learning_rate=paper.finetune_learning_rate(backbone.hidden_dim))

    def build_task_model(backbone):
        return GPT1TaskModel(
            backbone,
            config.task,
            label_names=data.label_names,
            regression=config.regression,
            tokenizer=tokenizer,
            lm_loss_weight=config.lm_loss_weight,
            dropout=config.dropout,
        )

    def build_model(dtype):
        initial = fresh_backbone(backbone, config.seed) if config.reinitialize \
            else backbone
        keras.utils.set_random_seed(config.seed)
        return build_task_model(backbone_in_precision(initial, dtype))

    def train_fn(context):
        return task_dataset(
            data.train, tokenizer, max_length, run.per_replica_batch,
            labels=data.train_labels, shuffle=True, seed=config.seed, repeat=True,
            num_shards=context.num_input_pipelines,
            shard_index=context.input_pipeline_id,
        )

    steps_per_epoch = math.ceil(len(data.train_table) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    warmup_steps = int(round(config.warmup_fraction * total_steps))
    model = run.compile(
        build_model,
        WarmupLinearDecay(config.learning_rate, warmup_steps, total_steps),
        train_fn, config.weight_decay, config.clipnorm,
    )
    history = run.fit(
        model,
        run.distribute(train_fn),
        epochs=math.ceil(total_steps / steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        callbacks=[StopAtStep(total_steps), *(callbacks or [])],
        verbose=config.verbose,
    )

    summary = {
        "task": config.task,
        "label_names": data.label_names,
        "regression": label_kind(config.task, config.regression) == SCORE_LABELS,
        "steps": int(model.optimizer.iterations.numpy()),
        "epochs": len(history.history.get("loss", [])),
        "train_loss": float(history.history["loss"][-1]),
        "train_examples": len(data.train_table),
        "validation_examples": 0 if data.validation is None else len(data.validation),
        "lm_loss_weight": config.lm_loss_weight,
        "reinitialized": config.reinitialize,
        "learning_rate": config.learning_rate,
        "learning_rate_source": "width rule" if learning_rate_rule else "given",
        "batch_size": config.batch_size,
        "warmup_steps": warmup_steps,
        "max_length": max_length,
        "seconds": run.seconds,
        "pretrained_model": os.path.abspath(config.model),
        "columns": _columns(data.train_table),
        "output": os.path.abspath(config.output),
        **run.summary(model),
    }
    if not run.chief:  # the chief scores and writes the output
        return summary
    model = run.publishable(model, lambda: build_task_model(
        GPT1Backbone.from_config({**backbone.get_config(), "dtype": "float32"})))
    if data.validation is not None:
        outputs = predict_encoded(model, data.validation, max_length)
        for name, value in score_predictions(model, outputs,
                                             data.validation_labels).items():
            summary[f"val_{name}"] = value
        note_when_nothing_was_learned(summary, config.verbose)
    if config.plot:
        summary["plot"] = os.path.join(os.path.abspath(config.output), PLOT_FILE)
    with artifacts.publishing_directory(config.output) as work:
        artifacts.save_model_file(model, os.path.join(work, artifacts.MODEL_FILE))
        tokenizer.save_to_directory(work)
        if config.plot:
            _write_history(history.history, work)
        artifacts.write_json(os.path.join(work, artifacts.SUMMARY_FILE), summary)
    return summary


# Validation accuracy within this of always answering the most frequent
# class counts as nothing learned.
NOTHING_LEARNED_MARGIN = 0.005


def note_when_nothing_was_learned(summary, verbose=1):
    """One line on stderr when validation accuracy is no better than the
    majority class (the model answers one class): the usual cause is a
    learning rate too small for the model or too few updates."""
    accuracy = summary.get("val_accuracy")
    majority = summary.get("val_majority_class_accuracy")
    if accuracy is None or majority is None:
        return False
    if accuracy > majority + NOTHING_LEARNED_MARGIN:
        return False
    if verbose:
        print(f"keras-gpt1: note: validation accuracy {accuracy:.3f} is no better than "
              f"always answering the most frequent class ({majority:.3f}); the model has "
              f"not learned the task: try a larger --learning-rate (this run used "
              f"{summary['learning_rate']:g}) or more epochs", file=sys.stderr)
    return True


def _write_history(history, work):
    """`history.csv` (epoch, loss) and its `loss.png`."""
    from keras_gpt1.plots import plot_history

    path = os.path.join(work, HISTORY_FILE)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss"])
        for epoch, loss in enumerate(history["loss"], start=1):
            writer.writerow([epoch, loss])
    plot_history(path, os.path.join(work, PLOT_FILE), title="Fine-tuning (L2 + λ·L1)",
                 perplexity=False)
