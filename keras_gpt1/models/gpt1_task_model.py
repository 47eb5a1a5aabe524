"""GPT-1 fine-tuned on a supervised task (paper §3.2-3.3): the backbone
reads every transformed sequence of an example, and a linear head (`clf`)
reads the final hidden state at the extract token."""

import keras
from keras import ops

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.hyperparameters import CLASSIFIER_DROPOUT
from keras_gpt1.hyperparameters import LM_LOSS_WEIGHT
from keras_gpt1.models.auxiliary_lm_loss import auxiliary_lm_loss
from keras_gpt1.models.gpt1_backbone import gpt1_kernel_initializer
from keras_gpt1.optimizers import finetuning_optimizer
from keras_gpt1.optimizers import with_schedule_length
from keras_gpt1.tasks import CHOICE_LABELS
from keras_gpt1.tasks import CLASS_LABELS
from keras_gpt1.tasks import SCORE_LABELS
from keras_gpt1.tasks import SIMILARITY
from keras_gpt1.tasks import TASKS
from keras_gpt1.tasks import label_kind


def extract_states(hidden, padding_mask):
    """Final hidden state at each sequence's extract token.

    The extract token is the last real token (index `length - 1`, sequences
    are right-padded); the model is causal, so padding after it never
    changes its state.

    Args:
        hidden: `(batch, seq_len, hidden_dim)`.
        padding_mask: int `(batch, seq_len)`, 1 on real tokens.

    Returns `(batch, hidden_dim)`.
    """
    last = ops.sum(ops.cast(padding_mask, "int32"), axis=1) - 1
    last = ops.maximum(last, 0)
    index = ops.expand_dims(ops.expand_dims(last, 1), 2)
    return ops.squeeze(ops.take_along_axis(hidden, index, axis=1), 1)


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1TaskModel(keras.Model):
    """A `GPT1Backbone` with the paper's task head.

    Each example is one or more token sequences built by
    `keras_gpt1.data.task_transforms` (1 for classification, entailment and
    regression, 2 for similarity, one per answer for multiple choice). All
    go through the backbone; then, at the extract token:

    - classification / entailment: dropout, `clf` -> class logits;
    - similarity: the two orderings' states are added elementwise, then
      dropout, `clf` (the output does not depend on the order of the texts);
    - regression (or `regression=True`): dropout, `clf` -> one number;
    - multiple choice: dropout, `clf` -> one score per answer; the logits
      over answers feed a softmax (any number of answers; permuting the
      answers permutes the scores).

    During training `lm_loss_weight * L1` (the auxiliary LM loss of the
    sequences' real tokens, `models/auxiliary_lm_loss.py`) is added to
    the compiled task loss.

    Args:
        backbone: a `GPT1Backbone` (pre-trained, or fresh for the paper's
            no-pre-training ablation).
        task: one of `TASKS`.
        label_names: class names (classification heads), saved with the
            model; their order is the logits' order.
        regression: a one-output head trained with mean squared error.
        tokenizer: optional; saved inside the `.keras` file.
        lm_loss_weight: λ (paper: 0.5; 0 turns the auxiliary loss off).
        dropout: classifier dropout (paper: 0.1).

    Call: `{"token_ids", "padding_mask"}`, int `(batch, num_sequences,
    seq_len)` -> float32 class logits `(batch, num_classes)`, scores
    `(batch, 1)`, or answer logits `(batch, num_choices)`.

    Example:
    ```python
    model = GPT1TaskModel(backbone, "classification", label_names=["0", "1"])
    model.compile()
    logits = model({"token_ids": ids, "padding_mask": mask})  # (batch, 2)
    ```
    """

    def __init__(
        self,
        backbone,
        task,
        label_names=None,
        regression=False,
        tokenizer=None,
        lm_loss_weight=LM_LOSS_WEIGHT,
        dropout=CLASSIFIER_DROPOUT,
        **kwargs,
    ):
        if task not in TASKS:
            raise GPT1InputError(
                f"unknown task '{task}'; choose one of {', '.join(TASKS)}"
            )
        kind = label_kind(task, regression)
        if kind == CLASS_LABELS and (not label_names or len(label_names) < 2):
            raise GPT1InputError(
                f"task '{task}' needs at least 2 classes; got "
                f"{list(label_names or [])}"
            )
        if lm_loss_weight < 0:
            raise GPT1InputError(
                f"lm_loss_weight must be >= 0; got {lm_loss_weight}"
            )
        super().__init__(**kwargs)
        # === Layers ===
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.classifier_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )
        num_outputs = len(label_names) if kind == CLASS_LABELS else 1
        self.clf = keras.layers.Dense(
            num_outputs,
            kernel_initializer=gpt1_kernel_initializer(),
            dtype=backbone.dtype_policy,
            name="clf",
        )
        self.clf.build((None, backbone.hidden_dim))
        # === Config ===
        self.task = task
        self.label_kind = kind
        self.label_names = list(label_names) if kind == CLASS_LABELS else None
        self.regression = bool(regression)
        self.lm_loss_weight = float(lm_loss_weight)
        self.dropout = dropout
        self.built = True  # every weight exists now: the backbone's and clf's

    def build(self, input_shape=None):
        """Nothing to do: the layers are built in `__init__` (any number of
        sequences and any length share the same weights)."""
        self.built = True

    def call(self, inputs, training=None):
        token_ids = ops.cast(inputs["token_ids"], "int32")
        padding_mask = ops.cast(inputs["padding_mask"], "int32")
        shape = ops.shape(token_ids)  # (batch, num_sequences, seq_len)
        flat_ids = ops.reshape(token_ids, (-1, shape[2]))
        flat_mask = ops.reshape(padding_mask, (-1, shape[2]))

        hidden = self.backbone(
            {"token_ids": flat_ids, "padding_mask": flat_mask}, training=training
        )
        if training and self.lm_loss_weight > 0:
            # L3 = L2 + λ * L1: Keras's compute_loss adds this to the task loss.
            self.add_loss(
                self.lm_loss_weight
                * auxiliary_lm_loss(
                    self.backbone.token_embedding, flat_ids, flat_mask, hidden
                )
            )

        states = extract_states(hidden, flat_mask)
        states = ops.reshape(states, (shape[0], shape[1], -1))
        if self.label_kind == CHOICE_LABELS:
            states = self.classifier_dropout(states, training=training)
            scores = ops.squeeze(self.clf(states), -1)  # (batch, num_choices)
            return ops.cast(scores, "float32")
        if self.task == SIMILARITY:
            states = ops.sum(states, axis=1)  # both orderings, added
        else:
            states = states[:, 0, :]
        states = self.classifier_dropout(states, training=training)
        return ops.cast(self.clf(states), "float32")

    # === Training defaults ===
    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Defaults: the paper's fine-tuning recipe for this width
        (`keras_gpt1.optimizers.finetuning_optimizer`: `GPT1AdamW` at
        6.25e-5 x (768 / width)^2, at most 1e-3; warmup over 0.2% of the
        next `fit`, then linear decay to 0 at its last step; decay 0.01 on
        weight matrices only; global-norm clipping at 1); cross-entropy
        over classes or answers and accuracy, or mean squared error for
        regression."""
        if optimizer == "auto":
            optimizer = finetuning_optimizer(self.backbone.hidden_dim)
        if loss == "auto":
            loss = (
                keras.losses.MeanSquaredError()
                if self.label_kind == SCORE_LABELS
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            )
        if metrics == "auto":
            metrics = (
                [keras.metrics.MeanAbsoluteError(name="mae")]
                if self.label_kind == SCORE_LABELS
                else [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
            )
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, *args, **kwargs):
        """Keras's `fit`; a default `compile()` schedule decays to 0 at this
        fit's last step."""
        kwargs["callbacks"] = with_schedule_length(
            self.optimizer, kwargs.get("callbacks"), kwargs.get("initial_epoch", 0))
        return super().fit(*args, **kwargs)

    def compile_from_config(self, config):
        """Recompile a loaded model as it was saved (`keras.saving.load_model`)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # === Serialization ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tokenizer": (
                keras.saving.serialize_keras_object(self.tokenizer)
                if self.tokenizer is not None
                else None
            ),
            "task": self.task,
            "label_names": (
                None if self.label_names is None else list(self.label_names)
            ),
            "regression": self.regression,
            "lm_loss_weight": self.lm_loss_weight,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"]
        )
        if config.get("tokenizer") is not None:
            config["tokenizer"] = keras.saving.deserialize_keras_object(
                config["tokenizer"]
            )
        return cls(**config)
