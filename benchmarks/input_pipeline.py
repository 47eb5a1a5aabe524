"""The pre-training input path at the paper's scale (issue: tokenize once,
any step in O(1)).

    cd benchmarks && python record.py input_pipeline.py [--tokens 1000000000]

Measures, in one process unless said otherwise:

1. Tokenizing text: `prepare-corpus` with 1 and 2 worker processes, Hugging
   Face `tokenizers` `encode_batch` on the same vocabulary and lines, and the
   in-graph tokenizer in tf.data (how the earlier pipeline read text every
   epoch), on Tiny Shakespeare repeated to ~34 MB (../shared/data), with an
   8,000-token BPE. Tokens per second and per CPU-second.
2. The training input path (`pretraining_batches`, tf.data, and the same
   batches as a Keras `PyDataset`) at batch 64 x 512 on a synthetic
   prepared corpus of `--tokens` ids: data-only tokens/s after warm-up.
3. Time to the first batch at step 0, 100,000 and 3,000,000 (opening the
   corpus included).
4. Peak RSS of a short `pretrain --data` run (tiny preset, its own
   process) on that corpus and on a 1M-token one.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt")
SEQ_LEN, BATCH = 512, 64
VOCABULARY = 8000


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def timed(fn):
    wall, cpu = time.perf_counter(), cpu_seconds()
    value = fn()
    return value, time.perf_counter() - wall, cpu_seconds() - cpu


def tokenizing(work, repeat):
    """Section 1."""
    from keras_gpt1.data.corpus_preparation import PrepareConfig
    from keras_gpt1.data.corpus_preparation import prepare_corpus
    from keras_gpt1.tokenizers.bpe_training import train_bpe
    from keras_gpt1.tokenizers.hf_tokenizer_json import hf_tokenizer

    with open(SHARED, encoding="utf-8") as f:
        text = f.read()
    corpus = os.path.join(work, "shakespeare_x.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for _ in range(repeat):
            f.write(text)
    tokenizer = train_bpe([SHARED], VOCABULARY)
    tokenizer_dir = os.path.join(work, "tokenizer")
    tokenizer.save_to_directory(tokenizer_dir)
    results = {"corpus_bytes": os.path.getsize(corpus)}
    for workers in (1, 2):
        out = os.path.join(work, f"prepared_{workers}")
        summary, wall, cpu = timed(lambda: prepare_corpus(PrepareConfig(
            [corpus], out, tokenizer=tokenizer_dir, workers=workers, verbose=0)))
        tokens = summary["train_tokens"] + summary["validation_tokens"]
        results[f"prepare_corpus_{workers}_workers"] = {
            "tokens": tokens, "seconds": wall, "tokens_per_second": tokens / wall,
            "tokens_per_cpu_second": tokens / cpu}
        if workers == 2:
            results["prepared"] = out
        else:
            shutil.rmtree(out)
    with open(corpus, encoding="utf-8") as f:
        lines = [line.rstrip("\n") + "\n" for line in f]
    hf = hf_tokenizer(tokenizer)
    count, wall, cpu = timed(lambda: sum(len(e.ids) for e in hf.encode_batch(lines)))
    results["hf_encode_batch"] = {"tokens": count, "seconds": wall,
                                  "tokens_per_second": count / wall,
                                  "tokens_per_cpu_second": count / cpu}
    import tensorflow as tf

    sample = lines[: len(lines) // 10]  # a tenth: the in-graph tokenizer is slow

    def in_graph():
        dataset = tf.data.Dataset.from_tensor_slices(sample).batch(256).map(
            lambda b: tokenizer(b).flat_values, num_parallel_calls=tf.data.AUTOTUNE)
        return sum(int(ids.shape[0]) for ids in dataset)

    count, wall, cpu = timed(in_graph)
    results["in_graph_tf_data"] = {"tokens": count, "seconds": wall,
                                   "tokens_per_second": count / wall,
                                   "tokens_per_cpu_second": count / cpu}
    return results


def synthetic_corpus(directory, tokens, tokenizer_dir):
    """A prepared corpus of `tokens` random ids (train) plus 1M held out, with
    the tokenizer of `tokenizer_dir`, written in chunks (any size)."""
    import hashlib

    from keras_gpt1.data import prepared_corpus as pc
    from keras_gpt1.tokenizers.tokenizer_directory import find_tokenizer

    tokenizer = find_tokenizer(tokenizer_dir)
    vocabulary_size = int(tokenizer.vocabulary_size())
    dtype = pc.token_dtype(vocabulary_size)
    rng = np.random.default_rng(0)
    splits = {}
    for split, count in ((pc.TRAIN, tokens), (pc.VALIDATION, 1_000_000)):
        tokens_path, documents_path = pc.shard_paths(directory, split, "part-00000")
        os.makedirs(os.path.dirname(tokens_path), exist_ok=True)
        digest = hashlib.sha256()
        with open(tokens_path, "wb") as f:
            for start in range(0, count, 1 << 26):
                chunk = rng.integers(0, vocabulary_size, min(1 << 26, count - start),
                                     dtype=np.int64).astype(dtype).tobytes()
                f.write(chunk)
                digest.update(chunk)
        np.save(documents_path, np.zeros((1, 2), np.int64), allow_pickle=False)
        shard = {"name": "part-00000", "tokens": count, "documents": 1,
                 "sha256": digest.hexdigest(),
                 "documents_sha256": pc.file_sha256(documents_path)}
        splits[split] = {"tokens": count, "documents": 1, "shards": [shard]}
    tokenizer.save_to_directory(os.path.join(directory, pc.TOKENIZER_DIR))
    index = {"format": pc.FORMAT, "format_version": pc.FORMAT_VERSION, "dtype": dtype.str,
             "vocabulary_size": vocabulary_size,
             "tokenizer": {"class": type(tokenizer).__name__,
                           "fingerprint": pc.tokenizer_fingerprint(tokenizer)},
             "splits": splits, "sources": [], "validation_fraction": 0.0, "seed": 0}
    with open(os.path.join(directory, pc.INDEX_FILE), "w", encoding="utf-8") as f:
        json.dump(index, f)
    return directory


def input_path(directory, batches):
    """Sections 2 and 3."""
    from keras_gpt1.data.pretraining_batches import PretrainingBatches
    from keras_gpt1.data.pretraining_batches import pretraining_batches

    results = {}
    dataset = pretraining_batches(directory, seq_len=SEQ_LEN, batch_size=BATCH)
    iterator = iter(dataset)
    for _ in range(20):  # warm-up
        next(iterator)
    start, cpu = time.perf_counter(), cpu_seconds()
    for _ in range(batches):
        next(iterator)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    results["tf_data_tokens_per_second"] = batches * BATCH * SEQ_LEN / wall
    results["tf_data_tokens_per_cpu_second"] = batches * BATCH * SEQ_LEN / cpu
    sequence = PretrainingBatches(directory, seq_len=SEQ_LEN, batch_size=BATCH)
    sequence[0]
    start = time.perf_counter()
    for i in range(batches):
        sequence[i]
    results["py_dataset_tokens_per_second"] = (
        batches * BATCH * SEQ_LEN / (time.perf_counter() - start))
    for step in (0, 100_000, 3_000_000):
        start = time.perf_counter()
        next(iter(pretraining_batches(directory, seq_len=SEQ_LEN, batch_size=BATCH,
                                      start_step=step)))
        results[f"first_batch_seconds_at_step_{step}"] = time.perf_counter() - start
    return results


def pretrain_peak_rss(directory, output):
    """Peak RSS (MB) of `pretrain --data directory` for a few steps."""
    code = (
        "import resource, sys\n"
        "from keras_gpt1.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run(
        [sys.executable, "-c", code, "pretrain", "--data", directory, "--output", output,
         "--preset", "tiny", "--seq-len", "128", "--batch-size", "64", "--max-steps", "20",
         "--checkpoint-every", "10"], capture_output=True, text=True, check=True)
    line = [x for x in done.stdout.splitlines() if x.startswith("PEAK_RSS_KB")][-1]
    return int(line.split()[1]) / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, default=1_000_000_000)
    p.add_argument("--repeat", type=int, default=30, help="copies of Tiny Shakespeare")
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="input_pipeline_")
    os.makedirs(work, exist_ok=True)
    try:
        result = {"seq_len": SEQ_LEN, "batch_size": BATCH, "synthetic_tokens": args.tokens}
        result["tokenizing"] = tokenizing(work, args.repeat)
        tokenizer_dir = os.path.join(work, "tokenizer")
        big = synthetic_corpus(os.path.join(work, "big"), args.tokens, tokenizer_dir)
        small = synthetic_corpus(os.path.join(work, "small"), 1_000_000, tokenizer_dir)
        result["input_path"] = input_path(big, args.batches)
        result["pretrain_peak_rss_mb"] = {
            "big": pretrain_peak_rss(big, os.path.join(work, "model_big")),
            "small": pretrain_peak_rss(small, os.path.join(work, "model_small"))}
        result["pretrain_peak_rss_mb"]["difference"] = (
            result["pretrain_peak_rss_mb"]["big"] - result["pretrain_peak_rss_mb"]["small"])
        result["tokenizing"].pop("prepared", None)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
