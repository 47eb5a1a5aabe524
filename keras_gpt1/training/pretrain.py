"""Stage 1 of the paper: unsupervised pre-training with `model.fit`.

`pretrain(PretrainConfig(...))` trains a BPE vocabulary (or reuses the one
of an interrupted run), builds a `GPT1CausalLM` from a preset, and fits it
on packed windows of the corpus. Work happens in `OUTPUT.partial/`; a rerun
of the same command after a kill resumes from the last checkpoint there;
the finished directory is renamed to `OUTPUT` in one step.
"""

import dataclasses
import json
import math
import os

import keras

from keras_gpt1 import artifacts
from keras_gpt1 import hyperparameters as paper
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.models.gpt1_backbone import GPT1Backbone
from keras_gpt1.models.gpt1_causal_lm import GPT1CausalLM
from keras_gpt1.models.gpt1_presets import preset_config
from keras_gpt1.optimizers import warmup_cosine_schedule
from keras_gpt1.tokenizers.bpe_training import check_text_files
from keras_gpt1.tokenizers.bpe_training import train_bpe
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer
from keras_gpt1.training import checkpoints
from keras_gpt1.training import distribution
from keras_gpt1.training.callbacks import RecordStep
from keras_gpt1.training.callbacks import StopAtStep
from keras_gpt1.training.callbacks import StopOnNonFiniteLoss
from keras_gpt1.training.training_run import TrainingRun
from keras_gpt1.training.training_run import check_settings

RUN_CONFIG_FILE = "run_config.json"
BACKUP_DIR = "checkpoint"
LOG_DIR = "logs"
HISTORY_FILE = "history.csv"
PLOT_FILE = "loss.png"


@dataclasses.dataclass
class PretrainConfig:
    """Settings of one pre-training run (CLI flags map 1:1)."""

    corpus: list
    output: str
    preset: str = "tiny"
    max_steps: int = 1000
    seq_len: int = None  # default: the preset's context
    batch_size: int = 16
    learning_rate: float = paper.PRETRAIN_LEARNING_RATE
    warmup_steps: int = None  # default: min(2000, max_steps // 10)
    weight_decay: float = paper.WEIGHT_DECAY
    clipnorm: float = paper.GLOBAL_CLIPNORM
    vocab_size: int = 8000
    dropout: float = None  # default: the preset's (0.1)
    seed: int = 0
    checkpoint_every: int = 100
    validation_every: int = 20
    jit_compile: bool = None  # None: on, except mixed_bfloat16 on a CPU
    strategy: str = "auto"  # see training/distribution.py
    precision: str = "auto"  # see training/precision.py
    plot: bool = False  # write loss.png (training and validation curves)
    verbose: int = 1

    def resolved(self):
        """A copy with defaults filled in and every value checked."""
        architecture = preset_config(self.preset)
        context = architecture["max_sequence_length"]
        c = dataclasses.replace(self, corpus=[os.fspath(p) for p in self.corpus])
        if c.seq_len is None:
            c.seq_len = context
        if c.warmup_steps is None:
            c.warmup_steps = min(paper.PRETRAIN_WARMUP_STEPS, int(
                c.max_steps * paper.PRETRAIN_MAX_WARMUP_FRACTION))
        if c.dropout is None:
            c.dropout = architecture["dropout"]
        if c.warmup_steps < 0:
            raise GPT1InputError(f"warmup_steps must be >= 0; got {c.warmup_steps}")
        check_settings(c, ("max_steps", "seq_len", "batch_size", "checkpoint_every",
                           "validation_every"))
        if c.seq_len > context:
            raise GPT1InputError(
                f"seq_len {c.seq_len} is longer than the context of preset "
                f"'{c.preset}' ({context})"
            )
        return c

    def run_identity(self):
        """The settings a resumed run must share with the interrupted one."""
        d = dataclasses.asdict(self)
        for transient in ("verbose", "output", "jit_compile", "plot", "strategy",
                          "precision"):
            d.pop(transient)
        return d


def _work_dir(config, chief=True, worker=0):
    """`OUTPUT.partial` (the chief's), `OUTPUT.worker<i>.partial` (others')."""
    base = config.output.rstrip("/")
    return base + ".partial" if chief else f"{base}.worker{worker}.partial"


def _reopen_work_dir(config, work):
    """The tokenizer of an interrupted run in `work`, or None (a run killed
    before its first save leaves nothing worth keeping)."""
    run_config_path = os.path.join(work, RUN_CONFIG_FILE)
    if not os.path.isfile(run_config_path):
        artifacts.remove_tree(work)
        return None
    identity = config.run_identity()
    with open(run_config_path, encoding="utf-8") as f:
        previous = json.load(f)
    if previous != identity:
        changed = sorted(k for k in identity if previous.get(k) != identity[k])
        raise GPT1InputError(
            f"{work} holds an interrupted run with other settings "
            f"({', '.join(changed)}); rerun it as it was or delete {work}"
        )
    return GPT1Tokenizer.from_directory(work)


def _create_work_dir(config, work, tokenizer):
    os.makedirs(work)
    tokenizer.save_to_directory(work)
    artifacts.write_json(os.path.join(work, RUN_CONFIG_FILE), config.run_identity())


def build_causal_lm(preset, tokenizer, dropout=None, seed=None, dtype=None):
    """A randomly initialised `GPT1CausalLM` of `preset` for `tokenizer`
    (`dtype`: a Keras dtype policy name such as `mixed_bfloat16`)."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    overrides = {"vocabulary_size": tokenizer.vocabulary_size()}
    if dropout is not None:
        overrides["dropout"] = dropout
    if dtype is not None:
        overrides["dtype"] = dtype
    backbone = GPT1Backbone.from_preset(preset, **overrides)
    return GPT1CausalLM(backbone, tokenizer=tokenizer)


def pretrain(config, callbacks=None):
    """Run (or resume) pre-training; returns the summary dict.

    `callbacks` are added to the run's own (checkpointing, TensorBoard, CSV
    history, stop at `max_steps`).

    Summary keys: `val_loss`, `val_perplexity`, `initial_val_loss`,
    `initial_val_perplexity`, `steps`, `resumed_from_step`, `tokens`,
    `tokens_per_second`, `parameters`, `vocabulary_size`, `output`,
    `strategy`, `replicas`, `precision`, `jit_compile`.
    """
    from keras_gpt1.data import pretraining_dataset as data

    config = config.resolved()
    check_text_files(config.corpus)
    if os.path.exists(config.output):
        raise GPT1InputError(f"output already exists: {config.output}")
    run = TrainingRun(config.strategy, config.batch_size, config.precision,
                      config.jit_compile)
    config = dataclasses.replace(config, precision=run.precision)

    # The global seed also fixes tf.data's shuffle order: set it first, so
    # the order depends on `seed` alone (a resumed run relies on that).
    keras.utils.set_random_seed(config.seed)
    work = _work_dir(config, run.chief, distribution.worker_id(run.strategy))
    tokenizer = _reopen_work_dir(config, work)
    resuming = tokenizer is not None
    if not resuming:
        tokenizer = train_bpe(config.corpus, config.vocab_size)
    held_out = data.held_out_windows(config.corpus, tokenizer, config.seq_len,
                                     config.validation_every)
    if not resuming:  # the corpus is usable: only now write anything
        _create_work_dir(config, work, tokenizer)
    distribution.check_same_on_all_workers(
        run.strategy, "BPE vocabularies",
        json.dumps([list(tokenizer.get_vocabulary()), list(tokenizer.merges)]),
    )
    steps_per_epoch = min(config.checkpoint_every, config.max_steps)
    completed_epochs = checkpoints.resume_epoch(run.strategy, os.path.join(work, BACKUP_DIR))
    resumed_from_step = _resumed_from_step(config, steps_per_epoch, completed_epochs)

    held_out = distribution.whole_batches(run.strategy, held_out, config.batch_size)

    def train_fn(context):
        per_step = context.num_replicas_in_sync // context.num_input_pipelines
        return data.train_dataset(
            config.corpus, tokenizer, config.seq_len, run.per_replica_batch,
            config.validation_every, config.seed,
            skip_batches=resumed_from_step * per_step,
            num_shards=context.num_input_pipelines,
            shard_index=context.input_pipeline_id,
        )

    def validation_fn(context):
        return data.validation_dataset(
            held_out, run.per_replica_batch, context.num_input_pipelines,
            context.input_pipeline_id,
        )

    model = run.compile(
        lambda dtype: build_causal_lm(config.preset, tokenizer, config.dropout,
                                      config.seed, dtype=dtype),
        warmup_cosine_schedule(config.learning_rate, config.warmup_steps,
                               config.max_steps),
        validation_fn, config.weight_decay, config.clipnorm,
    )
    return _fit_and_publish(config, run, model, tokenizer, work,
                            run.distribute(train_fn), run.distribute(validation_fn),
                            steps_per_epoch, completed_epochs, callbacks)


def _resumed_from_step(config, steps_per_epoch, completed_epochs):
    """The optimizer step a run resumed after `completed_epochs` starts at."""
    return min(completed_epochs * steps_per_epoch, config.max_steps)


def _fit_and_publish(config, run, model, tokenizer, work, train, validation,
                     steps_per_epoch, completed_epochs, callbacks):
    backup_dir = os.path.join(work, BACKUP_DIR)
    epochs = math.ceil(config.max_steps / steps_per_epoch)
    resumed_from_step = _resumed_from_step(config, steps_per_epoch, completed_epochs)

    run_config_path = os.path.join(work, RUN_CONFIG_FILE)
    state_path = os.path.join(work, "initial_validation.json")
    if os.path.isfile(state_path):
        with open(state_path, encoding="utf-8") as f:
            initial = json.load(f)
    else:
        loss, perplexity = run.evaluate(model, validation)
        initial = {"loss": float(loss), "perplexity": float(perplexity)}
        artifacts.write_json(state_path, initial)

    run_callbacks = [
        checkpoints.ResumableCheckpoints(backup_dir, resume_from=completed_epochs),
        StopOnNonFiniteLoss(steps_per_epoch),
        StopAtStep(config.max_steps),
        RecordStep(),
    ]
    if run.chief:
        run_callbacks += [
            keras.callbacks.TensorBoard(os.path.join(work, LOG_DIR)),
            keras.callbacks.CSVLogger(os.path.join(work, HISTORY_FILE), append=True),
        ]
    run.fit(
        model,
        train,
        epochs=epochs,
        initial_epoch=completed_epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation,
        callbacks=run_callbacks + list(callbacks or []),
        verbose=config.verbose,
    )
    steps = int(model.optimizer.iterations.numpy())
    val_loss, val_perplexity = run.evaluate(model, validation)

    tokens = (steps - resumed_from_step) * config.batch_size * config.seq_len
    summary = {
        "val_loss": float(val_loss),
        "val_perplexity": float(val_perplexity),
        "initial_val_loss": initial["loss"],
        "initial_val_perplexity": initial["perplexity"],
        "steps": steps,
        "resumed_from_step": resumed_from_step,
        "tokens": tokens,
        "tokens_per_second": tokens / max(run.seconds, 1e-9),
        "vocabulary_size": int(tokenizer.vocabulary_size()),
        "output": os.path.abspath(config.output),
        **run.summary(model),
    }
    if not run.chief:  # the chief writes the output; this worker's files go
        artifacts.remove_tree(work)
        return summary
    model = run.publishable(model, lambda: build_causal_lm(
        config.preset, tokenizer, config.dropout))
    artifacts.save_model_file(model, os.path.join(work, artifacts.MODEL_FILE))
    if config.plot:
        from keras_gpt1.plots import plot_history

        summary["plot"] = os.path.join(os.path.abspath(config.output), PLOT_FILE)
        plot_history(os.path.join(work, HISTORY_FILE), os.path.join(work, PLOT_FILE),
                     title=f"Pre-training ({config.preset})")
    artifacts.write_json(os.path.join(work, artifacts.SUMMARY_FILE), summary)
    artifacts.remove_tree(backup_dir)
    os.remove(state_path)
    os.remove(run_config_path)
    artifacts.publish_directory(work, config.output)
    return summary
