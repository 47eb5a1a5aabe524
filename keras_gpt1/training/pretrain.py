"""Stage 1 of the paper: unsupervised pre-training with `model.fit`.

`pretrain(PretrainConfig(...))` trains on a prepared corpus (`data`, made
once by `keras-gpt1 prepare-corpus`) or on text files (`corpus`, prepared
into the run's work directory first: one input pipeline either way),
builds a `GPT1CausalLM` from a preset for the corpus's tokenizer, and fits
it on the windows `data/pretraining_batches.py` draws: the batch of step
`s` depends on `(seed, s, batch_size)` alone, so a resumed run starts at
its step at once. Work happens in `OUTPUT.partial/`; a rerun of the same
command after a kill resumes from the last checkpoint there; the finished
directory is renamed to `OUTPUT` in one step.
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
from keras_gpt1.training import checkpoints
from keras_gpt1.training.callbacks import RecordStep
from keras_gpt1.training.callbacks import StopAtStep
from keras_gpt1.training.callbacks import StopOnNonFiniteLoss
from keras_gpt1.training.training_run import TrainingRun
from keras_gpt1.training.training_run import check_settings

RUN_CONFIG_FILE = "run_config.json"
DATA_DIR = "data"  # text files given with `corpus`, prepared
BACKUP_DIR = "checkpoint"
LOG_DIR = "logs"
HISTORY_FILE = "history.csv"
PLOT_FILE = "loss.png"
# Held-out windows each validation reads (spread over the held-out documents).
MAX_VALIDATION_WINDOWS = 256


@dataclasses.dataclass
class PretrainConfig:
    """Settings of one pre-training run (CLI flags map 1:1)."""

    corpus: list = None  # text files, prepared into the work directory
    output: str = None
    data: str = None  # a prepared corpus (keras-gpt1 prepare-corpus); or corpus
    preset: str = "tiny"
    max_steps: int = 1000
    seq_len: int = None  # default: the preset's context
    batch_size: int = 16
    learning_rate: float = paper.PRETRAIN_LEARNING_RATE
    warmup_steps: int = None  # default: min(2000, max_steps // 10)
    weight_decay: float = paper.WEIGHT_DECAY
    clipnorm: float = paper.GLOBAL_CLIPNORM
    vocab_size: int = 8000  # of the BPE trained on `corpus`
    validation_fraction: float = 0.05  # of `corpus`'s documents held out
    dropout: float = None  # default: the preset's (0.1)
    attention_dropout: float = None  # default: 0 (hyperparameters.py; paper 0.1)
    seed: int = 0
    checkpoint_every: int = 100
    jit_compile: bool = None  # None: on, except mixed_bfloat16 on a CPU
    strategy: str = "auto"  # see training/distribution.py
    precision: str = "auto"  # see training/precision.py
    plot: bool = False  # write loss.png (training and validation curves)
    verbose: int = 1

    def resolved(self):
        """A copy with defaults filled in and every value checked."""
        architecture = preset_config(self.preset)
        context = architecture["max_sequence_length"]
        if (self.corpus is None) == (self.data is None):
            raise GPT1InputError("give text files (corpus) or a prepared corpus (data)")
        if not self.output:
            raise GPT1InputError("no output directory given")
        c = dataclasses.replace(
            self, corpus=None if self.corpus is None else [os.fspath(p) for p in self.corpus],
            data=None if self.data is None else os.path.abspath(os.fspath(self.data)))
        if c.seq_len is None:
            c.seq_len = context
        if c.warmup_steps is None:
            c.warmup_steps = min(paper.PRETRAIN_WARMUP_STEPS, int(
                c.max_steps * paper.PRETRAIN_MAX_WARMUP_FRACTION))
        if c.dropout is None:
            c.dropout = architecture["dropout"]
        if c.attention_dropout is None:
            c.attention_dropout = paper.PRETRAIN_ATTENTION_DROPOUT
        if c.warmup_steps < 0:
            raise GPT1InputError(f"warmup_steps must be >= 0; got {c.warmup_steps}")
        check_settings(c, ("max_steps", "seq_len", "batch_size", "checkpoint_every"))
        if not 0.0 <= c.attention_dropout < 1.0:
            raise GPT1InputError(
                f"attention_dropout must be in [0, 1); got {c.attention_dropout}")
        if not 0.0 < c.validation_fraction < 1.0:
            raise GPT1InputError(
                f"validation_fraction must be in (0, 1); got {c.validation_fraction}")
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
        if self.data is not None:  # settings that only shape a preparation
            for unused in ("vocab_size", "validation_fraction"):
                d.pop(unused)
        return d


def _work_dir(config, chief=True, worker=0):
    """`OUTPUT.partial` (the chief's), `OUTPUT.worker<i>.partial` (others')."""
    base = config.output.rstrip("/")
    return base + ".partial" if chief else f"{base}.worker{worker}.partial"


def _prepared_corpus(config, work, resuming):
    """The `PreparedCorpus` the run trains on: `data`, or `corpus` prepared
    into `work` (kept there while the run is unfinished)."""
    from keras_gpt1.data.corpus_preparation import PrepareConfig
    from keras_gpt1.data.corpus_preparation import prepare_corpus
    from keras_gpt1.data.prepared_corpus import PreparedCorpus

    if config.data is not None:
        return PreparedCorpus(config.data)
    prepared = os.path.join(work, DATA_DIR)
    if not (resuming and os.path.isdir(prepared)):
        artifacts.remove_tree(prepared)
        # Prepared beside the work directory until it is usable: a bad
        # corpus leaves nothing behind.
        staging = work + "." + DATA_DIR
        artifacts.remove_tree(staging)
        prepare_corpus(PrepareConfig(
            config.corpus, staging, vocab_size=config.vocab_size,
            validation_fraction=config.validation_fraction, workers=1,
            seed=config.seed, verbose=0))
        os.makedirs(work, exist_ok=True)
        os.replace(staging, prepared)
    return PreparedCorpus(prepared)


def _validation_windows(config, corpus):
    from keras_gpt1.data.pretraining_batches import validation_windows

    try:
        return validation_windows(corpus, config.seq_len, MAX_VALIDATION_WINDOWS)
    except GPT1InputError as e:
        if config.data is not None:
            raise
        raise GPT1InputError(
            f"corpus too small: its held-out documents give no window of "
            f"{config.seq_len + 1} tokens ({e}); add text or lower --seq-len") from None


def build_causal_lm(preset, tokenizer, dropout=None, seed=None, dtype=None,
                    attention_dropout=None):
    """A randomly initialised `GPT1CausalLM` of `preset` for `tokenizer`
    (`dtype`: a Keras dtype policy name such as `mixed_bfloat16`)."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    overrides = {"vocabulary_size": tokenizer.vocabulary_size()}
    if dropout is not None:
        overrides["dropout"] = dropout
    if attention_dropout is not None:
        overrides["attention_dropout"] = attention_dropout
    if dtype is not None:
        overrides["dtype"] = dtype
    backbone = GPT1Backbone.from_preset(preset, **overrides)
    return GPT1CausalLM(backbone, tokenizer=tokenizer)


def pretrain(config, callbacks=None):
    """Run (or resume) pre-training; returns the summary dict.

    `callbacks` are added to the run's own (checkpointing, TensorBoard, CSV
    history, stop at `max_steps`).

    Summary keys: `val_loss`, `val_perplexity`, `initial_val_loss`,
    `initial_val_perplexity`, `val_word_perplexity`, `val_byte_perplexity`
    and `val_bits_per_byte` (lm-evaluation-harness's terms), `steps`,
    `resumed_from_step`, `tokens`,
    `tokens_per_second`, `parameters`, `vocabulary_size`, `train_tokens`
    (of the prepared corpus), `data_epochs` (passes over it), `data` (its
    directory), `output`, `strategy`, `replicas`, `precision`,
    `jit_compile`.
    """
    from keras_gpt1.data.prepared_corpus import TRAIN
    from keras_gpt1.data.pretraining_batches import ArrayBatches
    from keras_gpt1.data.pretraining_batches import SamplerBatches
    from keras_gpt1.data.pretraining_batches import WindowSampler
    from keras_gpt1.data.pretraining_batches import split_window
    from keras_gpt1.data.pretraining_batches import tf_batches

    config = config.resolved()
    if config.corpus is not None:
        from keras_gpt1.data.corpus_preparation import expand_inputs
        from keras_gpt1.tokenizers.bpe_training import check_text_files

        check_text_files(expand_inputs(config.corpus))
    if os.path.exists(config.output):
        raise GPT1InputError(f"output already exists: {config.output}")
    run = TrainingRun(config.strategy, config.batch_size, config.precision,
                      config.jit_compile)
    config = dataclasses.replace(config, precision=run.precision)

    keras.utils.set_random_seed(config.seed)  # initial weights, dropout
    work = _work_dir(config, run.chief, run.placement.worker_id)
    resuming = artifacts.reopen_work_directory(work, RUN_CONFIG_FILE,
                                               config.run_identity())
    try:
        corpus = _prepared_corpus(config, work, resuming)
        tokenizer = corpus.load_tokenizer()
        held_out = _validation_windows(config, corpus)
        sampler = WindowSampler(corpus.stream(TRAIN), config.seq_len, config.seed,
                                corpus.vocabulary_size)
    except GPT1InputError:
        if not resuming:
            artifacts.remove_tree(work)
        raise
    if not resuming:  # the corpus is usable: only now write the settings
        os.makedirs(work, exist_ok=True)
        artifacts.write_json(os.path.join(work, RUN_CONFIG_FILE), config.run_identity())
    run.placement.check_same_everywhere("tokenizers", corpus.fingerprint)
    steps_per_epoch = min(config.checkpoint_every, config.max_steps)
    completed_epochs = checkpoints.resume_epoch(run.placement, os.path.join(work, BACKUP_DIR))
    resumed_from_step = _resumed_from_step(config, steps_per_epoch, completed_epochs)

    held_out = run.whole_batches(held_out, config.batch_size)

    def train_fn(context):
        # Pipeline p feeds its replicas in turn: shards p * R .. p * R + R - 1
        # of every global batch, one per local replica.
        local = context.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local
        return tf_batches(sampler, config.batch_size, start_step=resumed_from_step,
                          shard_indices=range(first, first + local),
                          num_shards=context.num_replicas_in_sync)

    def validation_fn(context):
        import tensorflow as tf

        windows = held_out[context.input_pipeline_id::context.num_input_pipelines]
        return tf.data.Dataset.from_tensor_slices(windows).batch(
            run.per_replica_batch).map(split_window).cache()

    model = run.compile(
        lambda dtype: build_causal_lm(config.preset, tokenizer, config.dropout,
                                      config.seed, dtype=dtype,
                                      attention_dropout=config.attention_dropout),
        warmup_cosine_schedule(config.learning_rate, config.warmup_steps,
                               config.max_steps),
        validation_fn, config.weight_decay, config.clipnorm,
    )
    if run.backend == "tensorflow":
        train, validation = run.distribute(train_fn), run.distribute(validation_fn)
    else:  # keras.distribution splits each global batch over the devices
        train = SamplerBatches(sampler, config.batch_size, resumed_from_step)
        validation = ArrayBatches(held_out, config.batch_size)
    return _fit_and_publish(config, run, model, tokenizer, work, train, validation,
                            steps_per_epoch, completed_epochs, callbacks, sampler,
                            held_out)


def _held_out_perplexities(val_loss, tokenizer, windows):
    """The validation loss in lm-evaluation-harness's terms (`wikitext`'s
    word and byte perplexities, bits per byte; `evaluation/perplexity.py`):
    every target token of the held-out windows is scored once, so their
    total log-likelihood is `-val_loss` times their count, over the text
    they spell."""
    from keras_gpt1.evaluation.perplexity import normalised_perplexities
    from keras_gpt1.token_ids import detokenize_text

    targets = windows[:, 1:]
    text = "".join(detokenize_text(tokenizer, row) for row in targets)
    return normalised_perplexities(-val_loss * targets.size, int(targets.size), text)


def _tensorflow_installed():
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def _resumed_from_step(config, steps_per_epoch, completed_epochs):
    """The optimizer step a run resumed after `completed_epochs` starts at."""
    return min(completed_epochs * steps_per_epoch, config.max_steps)


def _fit_and_publish(config, run, model, tokenizer, work, train, validation,
                     steps_per_epoch, completed_epochs, callbacks, sampler,
                     validation_windows):
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
        run_callbacks.append(
            keras.callbacks.CSVLogger(os.path.join(work, HISTORY_FILE), append=True))
        if _tensorflow_installed():  # Keras writes TensorBoard logs with tf.summary
            run_callbacks.append(keras.callbacks.TensorBoard(os.path.join(work, LOG_DIR)))
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
    held_out = _held_out_perplexities(float(val_loss), tokenizer, validation_windows)

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
        "val_word_perplexity": held_out["word_perplexity"],
        "val_byte_perplexity": held_out["byte_perplexity"],
        "val_bits_per_byte": held_out["bits_per_byte"],
        "train_tokens": len(sampler.stream),
        "data_epochs": steps * config.batch_size / sampler.windows_per_epoch,
        "data": config.data or os.path.abspath(os.path.join(config.output, DATA_DIR)),
        "output": os.path.abspath(config.output),
        **run.summary(model),
    }
    if not run.chief:  # the chief writes the output; this worker's files go
        artifacts.remove_tree(work)
        return summary
    model = run.publishable(model, lambda: build_causal_lm(
        config.preset, tokenizer, config.dropout,
        attention_dropout=config.attention_dropout))
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
    # The tokenizer's files beside model.keras; text files given as `corpus`
    # stay prepared in OUTPUT/data (for `--data` in a later run).
    tokenizer.save_to_directory(work)
    artifacts.publish_directory(work, config.output)
    return summary
