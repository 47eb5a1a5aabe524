"""Every command against bad input: exit status 2, exactly one stderr line
`keras-gpt1: error: ...` naming the problem, no traceback, and nothing
left where the output would have gone (docs/reliability.md lists the
cases).

One tiny model is pre-trained (and fine-tuned) through the CLI for the
whole module; the cases run in process through `main`, and two run in a
subprocess to show the real stderr."""

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import keras
import pytest
from task_data import separable_sentences
from task_data import write_tsv

from keras_gpt1 import artifacts
from keras_gpt1.cli.main import main

CLI = [sys.executable, "-m", "keras_gpt1.cli.main"]
PREFIX = "keras-gpt1: error: "
CONTEXT = 128  # the `tiny` preset's
LATIN1 = b"caf\xe9"  # "café" in Latin-1: byte 3 is not UTF-8
TINY_PRETRAIN = ["--preset", "tiny", "--seq-len", "32", "--batch-size", "4",
                 "--vocab-size", "300", "--max-steps", "2", "--checkpoint-every", "2",
                 "--no-xla"]


def _checkpoint_files():
    """tests/convert/gpt1_checkpoint_files.py (tiny OpenAI / HF layouts)."""
    path = os.path.join(os.path.dirname(__file__), "..", "convert",
                        "gpt1_checkpoint_files.py")
    spec = importlib.util.spec_from_file_location("_reliability_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quiet_main(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0


def _rewrite_keras(source, target, edit):
    """Copy the `.keras` zip `source` to `target`, passing each member's
    bytes through `edit(name, data)`."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, "w") as out:
        for name in z.namelist():
            out.writestr(name, edit(name, z.read(name)))
    return str(target)


def _write(path, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return str(path)


def _truncate(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    _write(path, data[: int(len(data) * keep)])


def _empty_dir(path):
    os.makedirs(path)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The module's model, fine-tuned model and bad inputs, by name."""
    from conftest import write_corpus

    root = tmp_path_factory.mktemp("reliability")
    model = str(root / "model")
    _quiet_main(["pretrain", "--corpus", write_corpus(root / "corpus.txt"),
                 "--output", model, *TINY_PRETRAIN])
    train = write_tsv(root / "train.tsv", separable_sentences(16), header=None)
    tuned = str(root / "tuned")
    _quiet_main(["finetune", "--model", model, "--task", "classification",
                 "--train", train, "--output", tuned, "--epochs", "1",
                 "--batch-size", "4", "--max-steps", "1", "--no-xla"])

    keras_file = os.path.join(model, "model.keras")
    with open(keras_file, "rb") as f:
        keras_bytes = f.read()
    lambda_dir = root / "lambda"
    lambda_dir.mkdir()
    keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)]).save(
        lambda_dir / "model.keras")

    checkpoints = _checkpoint_files()
    weights, config = checkpoints.tiny_checkpoint_weights()
    hf_cut = checkpoints.write_hf_checkpoint(root / "hf_cut", weights, config)
    _truncate(os.path.join(hf_cut, "model.safetensors"))
    hf_empty = checkpoints.write_hf_checkpoint(root / "hf_empty", weights, config)
    _write(os.path.join(hf_empty, "model.safetensors"), b"")
    hf_latin1 = checkpoints.write_hf_checkpoint(root / "hf_latin1", weights, config)
    _write(os.path.join(hf_latin1, "config.json"), b'{"n_embd": "' + LATIN1 + b'"}')
    n_layer = checkpoints.TINY["n_layer"]
    openai_cut = checkpoints.write_openai_release(root / "openai_cut", weights, n_layer)
    _truncate(os.path.join(openai_cut, "params_3.npy"))
    openai_empty = checkpoints.write_openai_release(root / "openai_empty", weights, n_layer)
    _write(os.path.join(openai_empty, "params_shapes.json"), "")

    return {
        "root": str(root),
        "empty_dir": _empty_dir(root / "empty_dir"),
        "model": model,
        "tuned": tuned,
        "train": train,
        "missing": str(root / "missing.txt"),
        "missing_dir": str(root / "no_such_dir"),
        "missing_tflite": str(root / "missing" / "model.tflite"),
        "empty": _write(root / "empty.txt", ""),
        "latin1": _write(root / "latin1.txt", LATIN1 + b" au lait\n"),
        "latin1_arg": os.fsdecode(LATIN1),  # how the shell hands such bytes over
        "lines": _write(root / "lines.txt", "The cat sat.\nA dog.\n"),
        "one_label": write_tsv(root / "one_label.tsv",
                               [("the cat sat", "pos"), ("the mat", "pos")], header=None),
        "one_line": _write(root / "one_line.txt", "hello world\n"),
        "few_words": _write(root / "few_words.txt", "hello world hello world\n"),
        "long_text": "The cat sat on the mat. " * CONTEXT,
        "empty_keras": _write(root / "empty.keras", b""),
        "half_keras": _write(root / "half.keras", keras_bytes[: len(keras_bytes) // 2]),
        "cut_weights_keras": _rewrite_keras(
            keras_file, root / "cut_weights.keras",
            lambda n, b: b[: len(b) // 2] if n.endswith(".h5") else b),
        "unknown_class_keras": _rewrite_keras(
            keras_file, root / "unknown_class.keras",
            lambda n, b: (json.dumps({"module": "os", "class_name": "system",
                                      "config": {}}).encode()
                          if n == "config.json" else b)),
        "lambda_model": str(lambda_dir),
        "lambda_inside_keras": _rewrite_keras(
            keras_file, root / "lambda_inside.keras",
            lambda n, b: _with_a_lambda_layer(b, lambda_dir) if n == "config.json" else b),
        "hf_cut": hf_cut,
        "hf_empty": hf_empty,
        "hf_latin1": hf_latin1,
        "openai_cut": openai_cut,
        "openai_empty": openai_empty,
    }


def _with_a_lambda_layer(config_bytes, lambda_dir):
    """Our model's config with its preprocessor swapped for a Python
    `Lambda` layer (what safe_mode must refuse)."""
    with zipfile.ZipFile(os.path.join(lambda_dir, "model.keras")) as z:
        sequential = json.loads(z.read("config.json"))
    config = json.loads(config_bytes)
    config["config"]["preprocessor"] = sequential["config"]["layers"][-1]
    return json.dumps(config).encode()


def case(command, problem, args, message, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param([command, *args], message, id=f"{command}-{problem}",
                        marks=marks)


PRETRAIN = ["--corpus", "{lines}", "--output", "{out}", *TINY_PRETRAIN]
FINETUNE = ["--model", "{model}", "--task", "classification", "--train", "{train}",
            "--output", "{out}", "--no-xla"]
GENERATE = ["--model", "{model}", "--prompt", "The cat", "--no-xla"]
ATTENTION = ["--model", "{model}", "--text", "The cat", "--output", "{png}"]
TOKENIZE = ["--model", "{model}", "--input", "{lines}", "--output", "{ids}"]
EXPORT = ["--model", "{model}", "--format", "litert", "--output", "{out}"]
TRUNCATED = "is not a Keras archive (truncated?)"

PREPARE = ["--output", "{out}", "--vocab-size", "300", "--workers", "1"]

CASES = [
    # prepare-corpus and pretrain --data (damaged prepared corpora:
    # tests/data/test_corpus_preparation.py)
    case("prepare-corpus", "missing_input", ["{missing}", *PREPARE],
         "corpus file not found: "),
    case("prepare-corpus", "empty_corpus", ["{empty}", *PREPARE], "corpus is empty: "),
    case("prepare-corpus", "one_document", ["{few_words}", *PREPARE],
         "corpus too small to hold out a validation document: 1 document(s)"),
    case("prepare-corpus", "no_output", ["{lines}"], "--output is required"),
    case("prepare-corpus", "validation_fraction_of_one",
         ["{lines}", *PREPARE, "--validation-fraction", "1"],
         "validation_fraction must be in [0, 1); got 1.0"),
    case("prepare-corpus", "combine_one_part", ["--combine", "{root}", *PREPARE],
         "--combine needs two prepared corpora or more"),
    case("pretrain", "data_that_is_not_prepared", ["--data", "{root}", "--output", "{out}"],
         "is not a prepared corpus (no index.json; make one with keras-gpt1 "
         "prepare-corpus)"),
    case("pretrain", "data_missing", ["--data", "{missing_dir}", "--output", "{out}"],
         "prepared corpus not found: "),
    case("pretrain", "corpus_and_data", [*PRETRAIN, "--data", "{root}"],
         "argument --data: not allowed with argument --corpus"),
    # pretrain (missing, empty and non-UTF-8 corpus, unknown preset and
    # --max-steps 0: tests/cli/test_cli.py)
    case("pretrain", "corpus_is_an_empty_directory", [*PRETRAIN, "--corpus", "{empty_dir}"],
         "no files in the input directory "),
    case("pretrain", "zero_batch_size", [*PRETRAIN, "--batch-size", "0"],
         "batch_size must be >= 1; got 0"),
    case("pretrain", "negative_seq_len", [*PRETRAIN, "--seq-len", "-1"],
         "seq_len must be >= 1; got -1"),
    case("pretrain", "seq_len_over_context", [*PRETRAIN, "--seq-len", "999"],
         "seq_len 999 is longer than the context of preset 'tiny' (128)"),
    case("pretrain", "zero_checkpoint_every", [*PRETRAIN, "--checkpoint-every", "0"],
         "checkpoint_every must be >= 1; got 0"),
    case("pretrain", "vocab_size_below_bytes", [*PRETRAIN, "--vocab-size", "10"],
         "vocabulary size 10 is below the minimum of 261"),
    case("pretrain", "vocab_size_without_merges", [*PRETRAIN, "--vocab-size", "261"],
         "vocabulary size 261 leaves no room for BPE merges"),
    case("pretrain", "corpus_without_a_repeated_pair", [*PRETRAIN, "--corpus", "{one_line}"],
         "corpus too small to learn a BPE vocabulary"),
    case("pretrain", "corpus_shorter_than_two_windows", [*PRETRAIN, "--corpus", "{few_words}"],
         "corpus too small to hold out a validation document: 1 document(s)"),
    case("pretrain", "output_exists", [*PRETRAIN, "--output", "{existing}"],
         "output already exists: "),
    # generate (missing model, prompt over the context, empty prompt and a
    # 10-byte .keras: tests/cli/test_cli.py)
    case("generate", "zero_byte_keras_file", [*GENERATE, "--model", "{empty_keras}"],
         TRUNCATED),
    case("generate", "truncated_keras_file", [*GENERATE, "--model", "{half_keras}"],
         TRUNCATED),
    case("generate", "truncated_weights_in_keras_file",
         [*GENERATE, "--model", "{cut_weights_keras}"], "truncated file"),
    case("generate", "keras_file_naming_an_unknown_class",
         [*GENERATE, "--model", "{unknown_class_keras}"],
         "holds a 'system', not a keras-gpt1 model"),
    case("generate", "another_keras_model", [*GENERATE, "--model", "{lambda_model}"],
         "holds a 'Sequential', not a keras-gpt1 model"),
    case("generate", "lambda_refused_by_safe_mode",
         [*GENERATE, "--model", "{lambda_inside_keras}"],
         "Requested the deserialization of a `Lambda` layer"),
    case("generate", "missing_tflite", [*GENERATE, "--model", "{missing_tflite}"],
         "model not found: "),
    case("generate", "invalid_utf8_prompt", [*GENERATE, "--prompt", "{latin1_arg}"],
         "argument --prompt: not valid UTF-8 at byte 3"),
    case("generate", "unknown_sampler", [*GENERATE, "--sampler", "beam"],
         "argument --sampler: invalid choice: 'beam'"),
    case("generate", "zero_max_new_tokens", [*GENERATE, "--max-new-tokens", "0"],
         "argument --max-new-tokens: must be >= 1, got 0"),
    case("generate", "zero_top_k", [*GENERATE, "--sampler", "top_k", "--top-k", "0"],
         "argument --top-k: must be >= 1, got 0"),
    case("generate", "zero_temperature", [*GENERATE, "--sampler", "top_k",
                                          "--temperature", "0"],
         "temperature must be > 0; got 0.0"),
    case("generate", "negative_temperature", [*GENERATE, "--sampler", "top_p",
                                              "--temperature", "-1"],
         "temperature must be > 0; got -1.0"),
    case("generate", "top_p_above_one", [*GENERATE, "--sampler", "top_p", "--top-p", "1.5"],
         "top_p must be in (0, 1]; got 1.5"),
    case("generate", "zero_top_p", [*GENERATE, "--sampler", "top_p", "--top-p", "0"],
         "top_p must be in (0, 1]; got 0.0"),
    # attention (--layer 9: tests/cli/test_cli.py)
    case("attention", "missing_model", [*ATTENTION, "--model", "{missing_dir}"],
         "model not found: "),
    case("attention", "truncated_keras_file", [*ATTENTION, "--model", "{half_keras}"],
         TRUNCATED),
    case("attention", "empty_text", [*ATTENTION, "--text", ""], "text is empty"),
    case("attention", "invalid_utf8_text", [*ATTENTION, "--text", "{latin1_arg}"],
         "argument --text: not valid UTF-8 at byte 3"),
    case("attention", "text_longer_than_context", [*ATTENTION, "--text", "{long_text}"],
         "is longer than the context of 128"),
    case("attention", "negative_layer", [*ATTENTION, "--layer", "-1"],
         "layer -1 out of range [0, 4)"),
    case("attention", "negative_head", [*ATTENTION, "--head", "-1"],
         "head -1 out of range [0, 4)"),
    case("attention", "head_out_of_range", [*ATTENTION, "--head", "4"],
         "head 4 out of range [0, 4)"),
    case("attention", "output_not_png", [*ATTENTION, "--output", "{out}.jpg"],
         "output must be a .png file: "),
    case("attention", "output_directory_missing", [*ATTENTION, "--output", "{nested_png}"],
         "output directory does not exist: "),
    # tokenize
    case("tokenize", "missing_input", [*TOKENIZE, "--input", "{missing}"],
         "input file not found: "),
    case("tokenize", "input_is_a_directory", [*TOKENIZE, "--input", "{root}"],
         "input file not found: "),
    case("tokenize", "invalid_utf8_input", [*TOKENIZE, "--input", "{latin1}"],
         "is not UTF-8 text: invalid continuation byte at byte 3"),
    case("tokenize", "missing_model", [*TOKENIZE, "--model", "{missing_dir}"],
         "model not found: "),
    case("tokenize", "truncated_keras_file", [*TOKENIZE, "--model", "{half_keras}"],
         TRUNCATED),
    case("tokenize", "output_directory_missing", [*TOKENIZE, "--output", "{nested_ids}"],
         "output directory does not exist: "),
    case("tokenize", "output_is_a_directory", [*TOKENIZE, "--output", "{existing}"],
         "output is a directory: "),
    # finetune (a directory that is not a model: tests/cli/test_task_commands.py)
    case("finetune", "unknown_task", [*FINETUNE, "--task", "summarization"],
         "argument --task: invalid choice: 'summarization'"),
    case("finetune", "missing_train_file", [*FINETUNE, "--train", "{missing}"],
         "data file not found: "),
    case("finetune", "empty_train_file", [*FINETUNE, "--train", "{empty}"], "empty file"),
    case("finetune", "invalid_utf8_train_file", [*FINETUNE, "--train", "{latin1}"],
         "row 1: not valid UTF-8"),
    case("finetune", "missing_model", [*FINETUNE, "--model", "{missing_dir}"],
         "model not found: "),
    case("finetune", "truncated_keras_file", [*FINETUNE, "--model", "{half_keras}"],
         TRUNCATED),
    case("finetune", "zero_batch_size", [*FINETUNE, "--batch-size", "0"],
         "argument --batch-size: must be >= 1, got 0"),
    case("finetune", "zero_epochs", [*FINETUNE, "--epochs", "0"],
         "argument --epochs: must be >= 1, got 0"),
    case("finetune", "zero_max_steps", [*FINETUNE, "--max-steps", "0"],
         "argument --max-steps: must be >= 1, got 0"),
    case("finetune", "max_length_over_context", [*FINETUNE, "--max-length", "999"],
         "max_length must be in [1, 128] (the context); got 999"),
    case("finetune", "max_length_too_short_for_a_row", [*FINETUNE, "--max-length", "2"],
         "truncation cannot make room"),
    case("finetune", "negative_learning_rate", [*FINETUNE, "--learning-rate", "-1"],
         "learning_rate must be > 0; got -1.0"),
    case("finetune", "dropout_of_one", [*FINETUNE, "--dropout", "1"],
         "dropout must be in [0, 1); got 1.0"),
    case("finetune", "one_label_only", [*FINETUNE, "--train", "{one_label}"],
         "one label only (pos); classification needs at least 2"),
    case("finetune", "output_exists", [*FINETUNE, "--output", "{existing}"],
         "output already exists: "),
    # evaluate (unseen label, empty file, a pre-trained model:
    # tests/cli/test_task_commands.py)
    case("evaluate", "missing_data_file", ["--model", "{tuned}", "--data", "{missing}"],
         "data file not found: "),
    case("evaluate", "invalid_utf8_data_file", ["--model", "{tuned}", "--data", "{latin1}"],
         "row 1: not valid UTF-8"),
    case("evaluate", "unknown_text_column", ["--model", "{tuned}", "--data", "{train}",
                                             "--text-column", "review"],
         "column 'review': no such column"),
    case("evaluate", "missing_model", ["--model", "{missing_dir}", "--data", "{train}"],
         "model not found: "),
    case("evaluate", "truncated_keras_file", ["--model", "{half_keras}", "--data", "{train}"],
         TRUNCATED),
    # predict (two texts for a one-text task: tests/cli/test_task_commands.py)
    case("predict", "missing_input", ["--model", "{tuned}", "--input", "{missing}"],
         "data file not found: "),
    case("predict", "empty_input", ["--model", "{tuned}", "--input", "{empty}"], "empty file"),
    case("predict", "invalid_utf8_input", ["--model", "{tuned}", "--input", "{latin1}"],
         "row 1: not valid UTF-8"),
    case("predict", "invalid_utf8_text", ["--model", "{tuned}", "--text", "{latin1_arg}"],
         "argument --text: not valid UTF-8 at byte 3"),
    case("predict", "pretrained_model", ["--model", "{model}", "--text", "a cat"],
         "is not a fine-tuned task model"),
    case("predict", "truncated_keras_file", ["--model", "{half_keras}", "--text", "a cat"],
         TRUNCATED),
    # convert (a missing shard and malformed checkpoints: tests/convert/)
    case("convert", "missing_directory", ["--hf-dir", "{missing_dir}", "--output", "{out}"],
         "not a directory: "),
    case("convert", "file_instead_of_directory",
         ["--openai-dir", "{lines}", "--output", "{out}"], "not a directory: "),
    case("convert", "no_tokenizer_files", ["--hf-dir", "{model}", "--output", "{out}"],
         "no tokenizer files in "),
    case("convert", "zero_num_heads", ["--hf-dir", "{hf_cut}", "--output", "{out}",
                                       "--num-heads", "0"],
         "argument --num-heads: must be >= 1, got 0"),
    case("convert", "truncated_safetensors", ["--hf-dir", "{hf_cut}", "--output", "{out}"],
         "could not read model.safetensors: "),
    case("convert", "empty_safetensors", ["--hf-dir", "{hf_empty}", "--output", "{out}"],
         "could not read model.safetensors: "),
    case("convert", "invalid_utf8_config", ["--hf-dir", "{hf_latin1}", "--output", "{out}"],
         "config.json is not valid JSON: 'utf-8' codec can't decode byte 0xe9"),
    case("convert", "truncated_weight_shard",
         ["--openai-dir", "{openai_cut}", "--output", "{out}", "--num-heads", "2"],
         "params_3.npy is not a readable .npy file: "),
    case("convert", "empty_shapes_file",
         ["--openai-dir", "{openai_empty}", "--output", "{out}", "--num-heads", "2"],
         "params_shapes.json is not valid JSON: "),
    case("convert", "output_exists", ["--hf-dir", "{hf_cut}", "--output", "{existing}"],
         "output already exists: "),
    # export (unknown format and quantization, --max-length over the
    # context, a missing model: tests/export/test_export_command.py)
    case("export", "missing_format_argument", ["--model", "{model}", "--output", "{out}"],
         "the following arguments are required: --format"),
    case("export", "truncated_keras_file", [*EXPORT, "--model", "{half_keras}"], TRUNCATED),
    case("export", "lambda_refused_by_safe_mode",
         [*EXPORT, "--model", "{lambda_inside_keras}"],
         "Requested the deserialization of a `Lambda` layer"),
    case("export", "zero_max_length", [*EXPORT, "--max-length", "0"],
         "argument --max-length: must be >= 1, got 0"),
    case("export", "prefill_longer_than_max_length", [*EXPORT, "--prefill-length", "999"],
         "prefill length must be between 1 and the max length of 128; got 999"),
    case("export", "zero_version", [*EXPORT, "--format", "saved_model", "--version", "0"],
         "argument --version: must be >= 1, got 0"),
    case("export", "zero_max_new_tokens", [*EXPORT, "--format", "saved_model",
                                           "--max-new-tokens", "0"],
         "argument --max-new-tokens: must be >= 1, got 0"),
    case("export", "saved_model_output_is_a_file",
         [*EXPORT, "--format", "saved_model", "--output", "{existing_file}"],
         "is a file; a SavedModel export needs a directory"),
    case("export", "litert_output_exists", [*EXPORT, "--output", "{existing}"],
         "output already exists: "),
    # demo
    case("demo", "zero_steps", ["--output", "{out}", "--steps", "0"],
         "argument --steps: must be >= 1, got 0"),
    case("demo", "negative_finetune_epochs", ["--output", "{out}", "--finetune-epochs", "-1"],
         "argument --finetune-epochs: must be >= 1, got -1"),
    case("demo", "output_not_a_demo", ["--output", "{existing}"],
         "exists and is not a previous demo; pass --output NEW_DIR"),
]


# TensorFlow's own cache of converted functions, written to the temporary
# directory by any tracing; not an output.
AUTOGRAPH_FILE = "__autograph_generated_file"


def _leftovers(directory):
    return [n for n in os.listdir(directory) if not n.startswith(AUTOGRAPH_FILE)]


def _tree(path):
    """Every path under `path` (hidden ones included), with file sizes."""
    found = []
    for root, dirs, names in os.walk(path):
        for name in dirs + names:
            if name.startswith(AUTOGRAPH_FILE):
                continue
            full = os.path.join(root, name)
            size = os.path.getsize(full) if os.path.isfile(full) else None
            found.append((os.path.relpath(full, path), size))
    return sorted(found)


@pytest.fixture
def output_dir(tmp_path):
    """An empty directory for the outputs, plus an existing directory and
    file for the cases that must refuse to overwrite."""
    out = tmp_path / "out"
    (out / "existing").mkdir(parents=True)
    _write(out / "existing" / "keep.txt", "keep")
    _write(out / "existing.txt", "keep")
    return out


def _paths(files, out):
    return dict(
        files,
        out=str(out / "result"),
        png=str(out / "attention.png"),
        ids=str(out / "ids.txt"),
        nested_png=str(out / "no_such_dir" / "attention.png"),
        nested_ids=str(out / "no_such_dir" / "ids.txt"),
        existing=str(out / "existing"),
        existing_file=str(out / "existing.txt"),
    )


@pytest.mark.parametrize("argv, message", CASES)
def test_bad_input_exits_2_with_one_line_and_leaves_no_output(
        files, output_dir, capsys, monkeypatch, tmp_path, argv, message):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # see stray temp dirs
    before = _tree(tmp_path)
    argv = [arg.format(**_paths(files, output_dir)) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX) and message in lines[0], err
    assert _tree(tmp_path) == before


def _run(argv):
    return subprocess.run(CLI + argv, capture_output=True, timeout=300)


def test_non_utf8_prompt_bytes_from_the_shell_exit_2_without_traceback(files):
    done = _run([b"generate", b"--model", files["model"].encode(),
                 b"--prompt", LATIN1 + b" au lait"])
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        PREFIX + "argument --prompt: not valid UTF-8 at byte 3"]


def test_truncated_weight_shard_exits_2_without_traceback(files, tmp_path):
    done = _run(["convert", "--openai-dir", files["openai_cut"], "--num-heads", "2",
                 "--output", str(tmp_path / "model")])
    assert done.returncode == 2
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith(PREFIX + "params_3.npy is not a readable .npy file: ")
    assert os.listdir(tmp_path) == []


# === Inputs that look odd but are accepted ===


def test_tokenize_of_an_empty_file_writes_an_empty_file(files, tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    main(["tokenize", "--model", files["model"], "--input", files["empty"],
          "--output", str(ids), "--json"])
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"lines": 0, "tokens": 0}
    assert ids.read_text() == "" and os.listdir(tmp_path) == ["ids.txt"]


def test_predict_truncates_a_text_longer_than_the_context(files, capsys):
    main(["predict", "--model", files["tuned"], "--text", files["long_text"], "--json"])
    (prediction,) = json.loads(capsys.readouterr().out.splitlines()[-1])["predictions"]
    assert prediction["label"] in ("neg", "pos")


# === Exports are all-or-nothing ===


def _fail(*args, **kwargs):
    raise OSError("disk full")


def _write_partial_saved_model(module, path, signatures=None, options=None):
    _write(os.path.join(path, "saved_model.pb"), b"partial")


def _fail_after_partial_saved_model(module, path, signatures=None, options=None):
    _write_partial_saved_model(module, path)
    _fail()


def _break_saved_model_save(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.saved_model, "save", _fail_after_partial_saved_model)


def _break_warmup_requests(monkeypatch):
    import tensorflow as tf

    from keras_gpt1.export import saved_model_writer

    monkeypatch.setattr(tf.saved_model, "save", _write_partial_saved_model)
    monkeypatch.setattr(saved_model_writer, "write_warmup_requests", _fail)


def _break_converter(monkeypatch):
    from keras_gpt1.export import litert_conversion

    monkeypatch.setattr(litert_conversion, "convert_saved_model", _fail)


def _break_bundle_config(monkeypatch):
    from keras_gpt1.export import causal_lm_litert
    from keras_gpt1.export import task_litert

    for module in (causal_lm_litert, task_litert):
        monkeypatch.setattr(module, "convert_module", lambda *a, **k: b"TFL3 model")
    monkeypatch.setattr(artifacts, "write_json", _fail)


def _interrupt_converter(monkeypatch):
    from keras_gpt1.export import litert_conversion

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(litert_conversion, "convert_saved_model", interrupt)


EXPORT_FAILURES = {
    "saved_model_save_fails": ("saved_model", _break_saved_model_save),
    "saved_model_warmup_fails": ("saved_model", _break_warmup_requests),
    "litert_converter_fails": ("litert", _break_converter),
    "litert_bundle_write_fails": ("litert", _break_bundle_config),
}


@pytest.mark.parametrize("model", ["model", "tuned"], ids=["causal_lm", "task"])
@pytest.mark.parametrize("failure", list(EXPORT_FAILURES))
def test_failed_export_leaves_neither_output_nor_temporary_files(
        files, tmp_path, monkeypatch, failure, model):
    format, break_export = EXPORT_FAILURES[failure]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    out = tmp_path / "out"
    out.mkdir()
    break_export(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        main(["export", "--model", files[model], "--format", format,
              "--output", str(out / "export"), "--max-length", "8"])
    assert os.listdir(out) == [] and _leftovers(temporary) == []


def test_interrupted_export_exits_130_and_leaves_nothing(files, tmp_path, monkeypatch,
                                                         capsys):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    _interrupt_converter(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--model", files["model"], "--format", "litert",
              "--output", str(tmp_path / "export"), "--max-length", "8"])
    assert exit_info.value.code == 130  # 128 + SIGINT, as a shell reports Ctrl-C
    assert capsys.readouterr().err == PREFIX + "interrupted\n"
    assert os.listdir(tmp_path) == ["tmp"] and _leftovers(temporary) == []


def test_an_unexpected_error_while_loading_keeps_its_traceback(files, monkeypatch):
    # Only the errors of a corrupt or foreign file become one-line exit-2
    # errors; a bug elsewhere must stay visible.
    def bug(*args, **kwargs):
        raise TypeError("a bug in a from_config")

    monkeypatch.setattr(keras.saving, "load_model", bug)
    with pytest.raises(TypeError, match="a bug in a from_config"):
        artifacts.load_model(files["model"])
    with pytest.raises(TypeError, match="a bug in a from_config"):
        main(["generate", "--model", files["model"], "--prompt", "The cat", "--no-xla"])


def test_failed_convert_leaves_no_model_directory(files, tmp_path, monkeypatch):
    checkpoints = _checkpoint_files()
    weights, config = checkpoints.tiny_checkpoint_weights()
    source = checkpoints.write_hf_checkpoint(tmp_path / "hf", weights, config)
    out = tmp_path / "out"
    out.mkdir()

    def save_half(model, file):
        _write(file, b"PK partial")
        _fail()

    monkeypatch.setattr(artifacts, "save_model_file", save_half)
    with pytest.raises(OSError, match="disk full"):
        main(["convert", "--hf-dir", source, "--output", str(out / "model")])
    assert os.listdir(out) == []
