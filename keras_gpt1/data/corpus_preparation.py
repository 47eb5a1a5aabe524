"""`keras-gpt1 prepare-corpus`: text files -> a prepared corpus
(`data/prepared_corpus.py` describes the layout), tokenized once.

- Each input file becomes one shard per split, so machines can prepare
  disjoint sets of files and `combine_prepared` joins their directories
  (one tokenizer, checked by fingerprint).
- Documents go to the validation split by a hash of (seed, file name,
  document number), about `validation_fraction` of them, sampled across
  the whole corpus; a file with two documents or more gives at least one.
- Lines are tokenized in parallel (`workers` processes) by Hugging Face
  `tokenizers` built from the in-graph tokenizer's vocabulary and merges
  (`tokenizers/hf_tokenizer_json.py`: equal ids, tested on real text).
- Files stream through (memory holds a chunk of lines, not the corpus).
- The work happens in `OUTPUT.partial/`, one file's shards at a time, each
  recorded when complete; a rerun after a kill skips the files already
  done; `OUTPUT` appears, complete, in one rename.
"""

import codecs
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np

from keras_gpt1 import artifacts
from keras_gpt1.data.prepared_corpus import FORMAT
from keras_gpt1.data.prepared_corpus import FORMAT_VERSION
from keras_gpt1.data.prepared_corpus import INDEX_FILE
from keras_gpt1.data.prepared_corpus import MAX_DOCUMENT_LINES
from keras_gpt1.data.prepared_corpus import SPLITS
from keras_gpt1.data.prepared_corpus import TOKENIZER_DIR
from keras_gpt1.data.prepared_corpus import TRAIN
from keras_gpt1.data.prepared_corpus import VALIDATION
from keras_gpt1.data.prepared_corpus import PreparedCorpus
from keras_gpt1.data.prepared_corpus import file_sha256
from keras_gpt1.data.prepared_corpus import read_index
from keras_gpt1.data.prepared_corpus import shard_paths
from keras_gpt1.data.prepared_corpus import token_dtype
from keras_gpt1.data.prepared_corpus import tokenizer_fingerprint
from keras_gpt1.errors import GPT1InputError

DEFAULT_VALIDATION_FRACTION = 0.01
# Characters of text per unit of work handed to a tokenizing process.
CHUNK_CHARACTERS = 1 << 20
RUN_CONFIG_FILE = "preparation.json"
PARTS_DIR = "parts"


@dataclasses.dataclass
class PrepareConfig:
    """Settings of one `prepare-corpus` run (CLI flags map 1:1).

    `inputs`: text files, directories (every file below, sorted) or, with
    a leading `@`, a file listing paths one per line. `tokenizer`: a
    directory with a tokenizer's files (a model directory from pretrain or
    convert, GPT-1's original vocabulary); None trains a byte-level BPE of
    `vocab_size` on the inputs.
    """

    inputs: list
    output: str
    tokenizer: str = None
    vocab_size: int = 8000
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    workers: int = None  # default: every core
    seed: int = 0
    verbose: int = 1


def expand_inputs(inputs):
    """Text files named by `inputs` (see `PrepareConfig`), in order; each is
    checked to exist."""
    files = []
    for item in inputs:
        item = os.fspath(item)
        if item.startswith("@"):
            listing = item[1:]
            if not os.path.isfile(listing):
                raise GPT1InputError(f"input list not found: {listing}")
            with open(listing, encoding="utf-8") as f:
                named = [line.strip() for line in f if line.strip()]
            files.extend(expand_inputs(named))
        elif os.path.isdir(item):
            found = sorted(
                os.path.join(root, name)
                for root, dirs, names in os.walk(item)
                for name in names if not name.startswith(".")
            )
            if not found:
                raise GPT1InputError(f"no files in the input directory {item}")
            files.extend(found)
        elif os.path.isfile(item):
            files.append(item)
        else:
            raise GPT1InputError(f"corpus file not found: {item}")
    if not files:
        raise GPT1InputError("no corpus file given")
    return files


def read_lines(path):
    """`(line number, text)` of each line of `path`, without its line end;
    `GPT1InputError` at the first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, number = 0, 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as e:
                raise GPT1InputError(f"{path}: not valid UTF-8 at byte {offset + e.start}") \
                    from None
            offset += len(raw)
            if text.endswith("\n"):
                text = text[:-1]
                if text.endswith("\r"):
                    text = text[:-1]
            yield number, text
            number += 1
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise GPT1InputError(f"{path}: not valid UTF-8 at byte {offset}") from None


def read_documents(path):
    """`(first line number, lines)` of each document of `path`: a run of
    lines up to and including the blank lines that end it (blank lines
    before any text belong to the first document), or `MAX_DOCUMENT_LINES`
    lines."""
    lines, first, has_text, ended = [], 0, False, False
    for number, text in read_lines(path):
        blank = not text.strip()
        if lines and ((ended and not blank) or len(lines) >= MAX_DOCUMENT_LINES):
            yield first, lines
            lines, first, has_text, ended = [], number, False, False
        lines.append(text)
        if blank:
            ended = has_text
        else:
            has_text = True
    if lines:
        yield first, lines


def is_validation_document(seed, name, ordinal, fraction):
    """Whether document `ordinal` of the file `name` is held out: a hash of
    (seed, name, ordinal) below `fraction` (so about that fraction of the
    documents, wherever they are, the same on every machine)."""
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}\0{name}\0{ordinal}".encode("utf-8"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64 < fraction


# === Tokenizing processes ===
_WORKER_TOKENIZER = None


def _start_worker(tokenizer_json_text):
    global _WORKER_TOKENIZER
    from tokenizers import Tokenizer

    _WORKER_TOKENIZER = Tokenizer.from_str(tokenizer_json_text)


def _tokenize_documents(documents):
    """`[(first line, int64 ids)]` for `[(first line, lines)]`: each line
    tokenized with its newline, as the in-graph tokenizer reads
    `line + "\\n"`."""
    lines = [line + "\n" for _, doc_lines in documents for line in doc_lines]
    encodings = _WORKER_TOKENIZER.encode_batch(lines, add_special_tokens=False)
    out, k = [], 0
    for first, doc_lines in documents:
        ids = [i for e in encodings[k:k + len(doc_lines)] for i in e.ids]
        k += len(doc_lines)
        out.append((first, np.asarray(ids, dtype=np.int64)))
    return out


def _chunks(path):
    """Lists of documents of about `CHUNK_CHARACTERS` characters each."""
    chunk, size = [], 0
    for first, lines in read_documents(path):
        chunk.append((first, lines))
        size += sum(len(line) + 1 for line in lines)
        if size >= CHUNK_CHARACTERS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class ShardWriter:
    """Appends documents to one shard's token file, hashing as it writes."""

    def __init__(self, directory, split, name, dtype):
        self.tokens_path, self.documents_path = shard_paths(directory, split, name)
        os.makedirs(os.path.dirname(self.tokens_path), exist_ok=True)
        self.file = open(self.tokens_path, "wb")
        self.digest = hashlib.sha256()
        self.dtype = dtype
        self.name = name
        self.tokens = 0
        self.documents = []

    def add(self, first_line, ids):
        data = ids.astype(self.dtype).tobytes()
        self.file.write(data)
        self.digest.update(data)
        self.documents.append((self.tokens, first_line))
        self.tokens += len(ids)

    def close(self):
        self.file.close()
        documents = np.asarray(self.documents, dtype=np.int64).reshape(-1, 2)
        with open(self.documents_path, "wb") as f:
            np.save(f, documents, allow_pickle=False)
        return {
            "name": self.name,
            "tokens": self.tokens,
            "documents": len(self.documents),
            "sha256": self.digest.hexdigest(),
            "documents_sha256": file_sha256(self.documents_path),
        }


def prepare_file(path, name, work, dtype, vocabulary_size, config, tokenize_chunks):
    """Tokenize one file into `work`'s shards `name` of each split; returns
    the part record (shards and source statistics)."""
    writers = {split: ShardWriter(work, split, name, dtype) for split in SPLITS}
    base = os.path.basename(path)
    held, ordinal, validation_documents = None, 0, 0
    for documents in tokenize_chunks(_chunks(path)):
        for first, ids in documents:
            if len(ids) and int(ids.max()) >= vocabulary_size:
                raise GPT1InputError(f"{path}: the tokenizer produced id {int(ids.max())} "
                                     f"outside its vocabulary of {vocabulary_size}")
            if held is not None:
                writers[TRAIN].add(*held)
                held = None
            if is_validation_document(config.seed, base, ordinal, config.validation_fraction):
                writers[VALIDATION].add(first, ids)
                validation_documents += 1
            else:
                held = (first, ids)  # written when the next document comes
            ordinal += 1
    if held is not None:
        # A file of two documents or more holds at least one out.
        split = VALIDATION if (validation_documents == 0 and ordinal >= 2
                               and config.validation_fraction > 0) else TRAIN
        writers[split].add(*held)
    shards = {split: writer.close() for split, writer in writers.items()}
    return {"source": {"name": base, "bytes": os.path.getsize(path), "documents": ordinal},
            "shards": shards}


def _tokenizing(tokenizer, workers):
    """A function: iterable of document chunks -> iterable of tokenized
    chunks, in order, on `workers` processes (1: this one)."""
    from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json

    text = tokenizer_json(tokenizer)
    if workers == 1:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        _start_worker(text)
        return lambda chunks: map(_tokenize_documents, chunks), None
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per process
    pool = context.Pool(workers, initializer=_start_worker, initargs=(text,))
    return lambda chunks: pool.imap(_tokenize_documents, chunks), pool


def _settings(config, files, fingerprint):
    """What a rerun must share with the interrupted run."""
    return {
        "format_version": FORMAT_VERSION,
        "inputs": [{"path": os.path.abspath(p), "bytes": os.path.getsize(p)} for p in files],
        "tokenizer": None if config.tokenizer is None else os.path.abspath(config.tokenizer),
        "vocab_size": config.vocab_size if config.tokenizer is None else None,
        "fingerprint": fingerprint,
        "validation_fraction": config.validation_fraction,
        "seed": config.seed,
    }


def _check_config(config):
    if not 0.0 <= config.validation_fraction < 1.0:
        raise GPT1InputError(
            f"validation_fraction must be in [0, 1); got {config.validation_fraction}")
    if config.workers is not None and config.workers < 1:
        raise GPT1InputError(f"workers must be >= 1; got {config.workers}")
    artifacts.check_new_output(config.output)


def _open_tokenizer(config, files, work):
    """The tokenizer of an interrupted run in `work`, the given one, or one
    trained on `files`."""
    from keras_gpt1.tokenizers.bpe_training import check_text_files
    from keras_gpt1.tokenizers.bpe_training import train_bpe
    from keras_gpt1.tokenizers.tokenizer_directory import find_tokenizer

    saved = os.path.join(work, TOKENIZER_DIR)
    if os.path.isdir(saved) and os.path.isfile(os.path.join(work, RUN_CONFIG_FILE)):
        return find_tokenizer(saved)
    if config.tokenizer is not None:
        return find_tokenizer(os.fspath(config.tokenizer))
    check_text_files(files)
    return train_bpe(files, config.vocab_size)


def prepare_corpus(config):
    """Run (or finish) one preparation; returns the summary dict (keys:
    `output`, `files`, `train_tokens`, `validation_tokens`,
    `train_documents`, `validation_documents`, `vocabulary_size`, `dtype`,
    `tokenizer_fingerprint`, `seconds`, `tokens_per_second`, `workers`)."""
    from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json

    _check_config(config)
    files = expand_inputs(config.inputs)
    work = config.output.rstrip("/") + artifacts.WORK_SUFFIX
    tokenizer = _open_tokenizer(config, files, work)
    tokenizer_json(tokenizer)  # refuses a tokenizer it cannot mirror, before writing
    fingerprint = tokenizer_fingerprint(tokenizer)
    settings = _settings(config, files, fingerprint)
    _reopen_or_create(work, settings, tokenizer)
    vocabulary_size = int(tokenizer.vocabulary_size())
    dtype = token_dtype(vocabulary_size)
    workers = config.workers or os.cpu_count() or 1
    start = time.time()
    tokenize_chunks, pool = _tokenizing(tokenizer, workers)
    parts = []
    try:
        progress = _Progress(sum(os.path.getsize(p) for p in files), config.verbose)
        for i, path in enumerate(files):
            name = f"part-{i:05d}"
            record = os.path.join(work, PARTS_DIR, name + ".json")
            if not os.path.isfile(record):
                part = prepare_file(path, name, work, dtype, vocabulary_size, config,
                                    tokenize_chunks)
                artifacts.write_json(record, part)
            with open(record, encoding="utf-8") as f:
                parts.append(json.load(f))
            progress.advance(os.path.getsize(path))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    index = _index(parts, vocabulary_size, dtype, type(tokenizer).__name__, fingerprint,
                   config.validation_fraction, config.seed)
    try:
        _check_usable(index, files)
    except GPT1InputError:
        artifacts.remove_tree(work)  # a verdict on the corpus, not a kill: start over
        raise
    artifacts.write_json(os.path.join(work, INDEX_FILE), index)
    shutil.rmtree(os.path.join(work, PARTS_DIR))
    os.remove(os.path.join(work, RUN_CONFIG_FILE))
    artifacts.publish_directory(work, config.output)
    seconds = time.time() - start
    return _summary(index, config.output, seconds, workers)


def _reopen_or_create(work, settings, tokenizer):
    if artifacts.reopen_work_directory(work, RUN_CONFIG_FILE, settings, "preparation"):
        return
    os.makedirs(os.path.join(work, PARTS_DIR))
    tokenizer.save_to_directory(os.path.join(work, TOKENIZER_DIR))
    from keras_gpt1.tokenizers.hf_tokenizer_json import TOKENIZER_JSON
    from keras_gpt1.tokenizers.hf_tokenizer_json import tokenizer_json

    with open(os.path.join(work, TOKENIZER_DIR, TOKENIZER_JSON), "w", encoding="utf-8") as f:
        f.write(tokenizer_json(tokenizer))
    artifacts.write_json(os.path.join(work, RUN_CONFIG_FILE), settings)


def _index(parts, vocabulary_size, dtype, tokenizer_class, fingerprint,
           validation_fraction, seed):
    splits = {}
    for split in SPLITS:
        shards = [part["shards"][split] for part in parts]
        splits[split] = {
            "tokens": sum(s["tokens"] for s in shards),
            "documents": sum(s["documents"] for s in shards),
            "shards": shards,
        }
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dtype": dtype.str,
        "vocabulary_size": vocabulary_size,
        "tokenizer": {"class": tokenizer_class, "fingerprint": fingerprint},
        "splits": splits,
        "sources": [part["source"] for part in parts],
        "validation_fraction": validation_fraction,
        "seed": seed,
    }


def _check_usable(index, files):
    train, validation = index["splits"][TRAIN], index["splits"][VALIDATION]
    if train["tokens"] == 0:
        raise GPT1InputError(f"corpus is empty: {', '.join(files)}")
    if validation["tokens"] == 0 and index["validation_fraction"] > 0:
        raise GPT1InputError(
            f"corpus too small to hold out a validation document: "
            f"{train['documents']} document(s) (documents end at blank lines); add "
            "text or raise --validation-fraction")


def _summary(index, output, seconds, workers):
    train, validation = index["splits"][TRAIN], index["splits"][VALIDATION]
    tokens = train["tokens"] + validation["tokens"]
    return {
        "output": os.path.abspath(output),
        "files": len(index["sources"]),
        "train_tokens": train["tokens"],
        "validation_tokens": validation["tokens"],
        "train_documents": train["documents"],
        "validation_documents": validation["documents"],
        "vocabulary_size": index["vocabulary_size"],
        "dtype": np.dtype(index["dtype"]).name,
        "tokenizer_fingerprint": index["tokenizer"]["fingerprint"],
        "seconds": seconds,
        "tokens_per_second": tokens / max(seconds, 1e-9),
        "workers": workers,
    }


class _Progress:
    """Megabytes of input done, on stderr when it is a terminal (`verbose`
    1): a script reading stderr sees only errors, one line each."""

    def __init__(self, total_bytes, verbose):
        self.total = total_bytes
        self.done = 0
        self.verbose = verbose and sys.stderr.isatty()
        self.start = time.time()

    def advance(self, size):
        self.done += size
        if self.verbose:
            rate = self.done / max(time.time() - self.start, 1e-9) / 1e6
            sys.stderr.write(f"\rprepare-corpus: {self.done / 1e6:.1f}/"
                             f"{self.total / 1e6:.1f} MB ({rate:.1f} MB/s)")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def combine_prepared(parts, output):
    """Join prepared corpora made with one tokenizer (e.g. on several
    machines, each from its own files) into `output`: their shards in the
    order given, hard-linked where the file system allows, else copied."""
    if len(parts) < 2:
        raise GPT1InputError("--combine needs two prepared corpora or more")
    corpora = [PreparedCorpus(p) for p in parts]
    first = corpora[0]
    for corpus in corpora[1:]:
        if corpus.fingerprint != first.fingerprint:
            raise GPT1InputError(
                f"{corpus.directory} was prepared with another tokenizer than "
                f"{first.directory}")
        if corpus.dtype != first.dtype:
            raise GPT1InputError(f"{corpus.directory} stores {corpus.dtype}, "
                                 f"{first.directory} {first.dtype}")
    with artifacts.publishing_directory(output) as work:
        shutil.copytree(first.tokenizer_directory(), os.path.join(work, TOKENIZER_DIR))
        combined, k = [], 0
        for corpus in corpora:
            index = read_index(corpus.directory)
            for i, source in enumerate(index["sources"]):
                name = f"part-{k:05d}"
                shards = {}
                for split in SPLITS:
                    shard = next(s for s in index["splits"][split]["shards"]
                                 if s["name"] == f"part-{i:05d}")
                    for old, new in zip(shard_paths(corpus.directory, split, shard["name"]),
                                        shard_paths(work, split, name), strict=True):
                        os.makedirs(os.path.dirname(new), exist_ok=True)
                        _link_or_copy(old, new)
                    shards[split] = {**shard, "name": name}
                combined.append({"source": source, "shards": shards})
                k += 1
        index = _index(combined, first.vocabulary_size, first.dtype, first.tokenizer_class,
                       first.fingerprint, first.index["validation_fraction"],
                       first.index["seed"])
        artifacts.write_json(os.path.join(work, INDEX_FILE), index)
    return _summary(index, output, 0.0, 1)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


