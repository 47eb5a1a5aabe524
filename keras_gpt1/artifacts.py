"""Model directories and other artifacts: written atomically, loaded safely.

Everything this project writes for users (a trained, fine-tuned or
converted model directory, a SavedModel version, a LiteRT bundle, a single
exported file) is built under a hidden temporary name beside its
destination and renamed into place when complete (`publishing_directory`,
`publishing_file`): readers such as TF Serving never see half an
artifact, a failure leaves nothing behind, and the result has the
permissions of anything else the user creates (`mkdir`, `open`).

A model directory holds `model.keras` (weights, config and the tokenizer)
and the tokenizer's files beside it for tools outside Keras.
"""

import contextlib
import json
import os
import shutil
import tempfile
import zipfile

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line

MODEL_FILE = "model.keras"
SUMMARY_FILE = "summary.json"
# Suffix of the hidden directory or file an artifact is built in.
WORK_SUFFIX = ".partial"


def model_path(path):
    """`path` itself if it is a `.keras` file, else `path/model.keras`."""
    path = os.fspath(path)
    return path if path.endswith(".keras") else os.path.join(path, MODEL_FILE)


def load_model(path, compile=False):
    """Load a model saved by this project (`safe_mode` stays on).

    Raises `GPT1InputError` for what a user can fix: a missing path, a
    directory without `model.keras`, a file that is not a complete Keras
    archive, one that holds something other than a keras-gpt1 model, one
    whose weights do not fit its config (another version's file), one that
    `safe_mode` refuses. Any other error is a bug and keeps its traceback.
    """
    import keras

    import keras_gpt1

    keras_gpt1.register_classes()
    path = os.fspath(path)
    file = model_path(path)
    if not os.path.exists(path):
        raise GPT1InputError(f"model not found: {path}")
    if not os.path.isfile(file):
        raise GPT1InputError(
            f"{path} is not a keras-gpt1 model directory (no {MODEL_FILE})"
        )
    check_keras_archive(file)
    try:
        return keras.saving.load_model(file, compile=compile, safe_mode=True)
    except OSError as e:  # a weights file cut short or damaged inside
        raise GPT1InputError(f"could not load {file}: {first_line(e)}") from None
    except ValueError as e:
        message = first_line(e)
        if not any(known in message for known in KNOWN_LOAD_ERRORS):
            raise
        raise GPT1InputError(f"could not load {file}: {message}") from None


# What `keras.saving.load_model` says of a file that is not one of ours as
# it stands: weights that do not fit the config (another version's file),
# and a layer `safe_mode` refuses to deserialize.
KNOWN_LOAD_ERRORS = ("could not be loaded", "safe_mode")
# The registered-name prefix of this project's classes.
REGISTERED_PACKAGE = "keras_gpt1>"


def check_keras_archive(file):
    """`GPT1InputError` unless `file` is a complete Keras archive whose
    config names one of this project's classes."""
    if not zipfile.is_zipfile(file):
        raise GPT1InputError(f"{file} is not a Keras archive (truncated?)")
    try:
        with zipfile.ZipFile(file) as archive:
            damaged = archive.testzip()
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise GPT1InputError(f"{file} is not a readable Keras archive: {first_line(e)}") \
            from None
    if damaged is not None:
        raise GPT1InputError(f"{file} is damaged: {damaged} fails its checksum")
    registered = config.get("registered_name") if isinstance(config, dict) else None
    if not (isinstance(registered, str) and registered.startswith(REGISTERED_PACKAGE)):
        name = config.get("class_name") if isinstance(config, dict) else None
        raise GPT1InputError(
            f"{file} holds a {name!r}, not a keras-gpt1 model (saved with "
            "keras-gpt1 pretrain, finetune or convert)"
        )


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def give_usual_permissions(path):
    """Permissions of a directory made with `mkdir` or a file made with
    `open` (`mkdtemp` and `mkstemp` make theirs private, and a published
    artifact must stay readable by a model server or another user)."""
    mode = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, mode & ~_umask())


def check_new_output(output):
    if os.path.lexists(output):
        raise GPT1InputError(f"output already exists: {output}")


@contextlib.contextmanager
def publishing_directory(output, replace=False):
    """Build the directory `output` atomically.

    Yields a new, empty hidden directory beside `output`; when the block
    ends, it is renamed to `output` in one step; if the block fails, it is
    removed (and so is a parent directory this call created). `output`
    must not exist, unless `replace`: then an old `output` is swapped out
    (renamed aside, the new one renamed in, the old one removed).
    """
    if not replace:
        check_new_output(output)
    target = os.path.abspath(output)
    parent = os.path.dirname(target)
    created_parent = not os.path.exists(parent)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(
        prefix=f".{os.path.basename(target)}.", suffix=WORK_SUFFIX, dir=parent
    )
    give_usual_permissions(work)
    try:
        yield work
        if replace and os.path.lexists(target):
            stale = work[: -len(WORK_SUFFIX)] + ".stale"
            os.replace(target, stale)
            os.replace(work, target)
            remove_tree(stale)
        else:
            publish_directory(work, target)
    except BaseException:
        remove_tree(work)
        if created_parent and not os.listdir(parent):
            os.rmdir(parent)
        raise


@contextlib.contextmanager
def publishing_file(output, replace=False, suffix=WORK_SUFFIX):
    """Write the file `output` atomically: yields a hidden temporary path
    beside it (ending in `suffix`), renamed to `output` when the block ends
    (removed if it fails). `output` must not exist, unless `replace`."""
    if not replace:
        check_new_output(output)
    target = os.path.abspath(output)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    fd, work = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=suffix, dir=parent
    )
    os.close(fd)
    try:
        yield work
        give_usual_permissions(work)
        if not replace:
            check_new_output(output)
        os.replace(work, target)
    finally:
        if os.path.exists(work):
            os.remove(work)


def save_model_file(model, file):
    """Save `model` to `file` (replacing it) through `publishing_file`."""
    # Keras picks the format by the name's extension.
    with publishing_file(file, replace=True, suffix=WORK_SUFFIX + ".keras") as work:
        model.save(work, overwrite=True)


def read_json(path, missing_message):
    """The JSON value in `path`. `GPT1InputError(missing_message)` when there
    is no such file, and one naming the file when it is not valid JSON."""
    if not os.path.isfile(path):
        raise GPT1InputError(missing_message)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise GPT1InputError(f"{path} is not valid JSON: {e}") from None


def write_json(path, data):
    """Write (or replace) the JSON file `path` through `publishing_file`."""
    with publishing_file(path, replace=True) as work:
        with open(work, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)


def write_text(path, text):
    """Write (or replace) the UTF-8 text file `path` through
    `publishing_file`."""
    with publishing_file(path, replace=True) as work:
        with open(work, "w", encoding="utf-8") as f:
            f.write(text)


def reopen_work_directory(work, settings_file, settings, what="run"):
    """Whether `work` holds an interrupted `what` with `settings` to resume.

    `work/settings_file` is written when the work has started for good; a
    directory without it (killed before) is removed, and one whose settings
    differ is refused with `GPT1InputError` naming the settings that changed.
    """
    path = os.path.join(work, settings_file)
    if not os.path.isfile(path):
        remove_tree(work)
        return False
    with open(path, encoding="utf-8") as f:
        previous = json.load(f)
    if previous != settings:
        changed = sorted(k for k in settings if previous.get(k) != settings[k])
        raise GPT1InputError(
            f"{work} holds an interrupted {what} with other settings "
            f"({', '.join(changed)}); rerun it as it was or delete {work}")
    return True


def publish_directory(work_dir, output_dir):
    """Move a finished `work_dir` to `output_dir` in one rename."""
    check_new_output(output_dir)
    os.replace(work_dir, output_dir)


def directory_size(path):
    """Bytes of all files under `path`."""
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
