"""Tokenizer parity and speed: `OpenAIGPTTokenizer` (TF ops) against Hugging
Face's `OpenAIGPTTokenizer` (Rust `tokenizers`), with GPT-1's real
vocabulary, on real text.

For each text file: how many lines get different ids (out of how many),
and tokens per second of each tokenizer (ours eagerly and inside a
`tf.function`, Hugging Face batched), batches of `--batch-size` lines.

    python benchmarks/tokenizer_parity.py [--json] [--check]

`--check` (what CI runs) exits with status 1 if any line differs.

Needs transformers >= 5 (`pip install -e .[reference]`) and the GPT-1
files in `--vocab-dir` (defaults to ../shared/data/gpt1).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import tensorflow as tf

from keras_gpt1.tokenizers import OpenAIGPTTokenizer
from keras_gpt1.tokenizers.openai_gpt_tokenizer import find_tokenizer_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
DEFAULT_VOCAB_DIR = os.path.join(SHARED, "gpt1")
DEFAULT_TEXTS = [
    os.path.join(SHARED, "tinyshakespeare", "input.txt"),
    os.path.join(SHARED, "agnews", "dev.tsv"),
]
SHOWN_MISMATCHES = 3


def read_lines(path, limit):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return lines[:limit] if limit else lines


def hugging_face_tokenizer(vocab_dir):
    """The reference, from the same two files under Hugging Face's names."""
    from transformers import OpenAIGPTTokenizer as HuggingFaceTokenizer

    vocabulary, merges = find_tokenizer_files(vocab_dir)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(vocabulary, os.path.join(tmp, "vocab.json"))
        shutil.copy(merges, os.path.join(tmp, "merges.txt"))
        return HuggingFaceTokenizer.from_pretrained(tmp)


def timed(fn, lines, batch_size):
    """`(ids per line, seconds)`; one untimed batch first (tracing)."""
    fn(lines[:batch_size])
    start = time.perf_counter()
    ids = []
    for i in range(0, len(lines), batch_size):
        ids.extend(fn(lines[i:i + batch_size]))
    return ids, time.perf_counter() - start


def compare(path, lines, ours, graph, reference, batch_size):
    ours_ids, ours_s = timed(lambda b: ours(b).to_list(), lines, batch_size)
    graph_ids, graph_s = timed(
        lambda b: graph(tf.constant(b)).to_list(), lines, batch_size
    )
    hf_ids, hf_s = timed(lambda b: reference(b)["input_ids"], lines, batch_size)
    tokens = sum(map(len, hf_ids))
    mismatches = [i for i, (a, b) in enumerate(zip(ours_ids, hf_ids)) if a != b]
    assert graph_ids == ours_ids, "tf.function ids differ from eager ids"
    return {
        "file": os.path.relpath(path, os.path.dirname(ROOT)),
        "lines": len(lines),
        "tokens": tokens,
        "mismatched_lines": len(mismatches),
        "mismatch_examples": [lines[i][:80] for i in mismatches[:SHOWN_MISMATCHES]],
        "ours_eager_tokens_per_s": round(tokens / ours_s),
        "ours_tf_function_tokens_per_s": round(tokens / graph_s),
        "hugging_face_tokens_per_s": round(tokens / hf_s),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-dir", default=DEFAULT_VOCAB_DIR)
    parser.add_argument("--text", action="append", default=None,
                        help="text file, one line per example (repeatable)")
    parser.add_argument("--lines", type=int, default=0,
                        help="first N lines of each file (0: all)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line with the results")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if any line's ids differ")
    args = parser.parse_args(argv)

    ours = OpenAIGPTTokenizer.from_directory(args.vocab_dir)
    graph = tf.function(ours, input_signature=[tf.TensorSpec([None], tf.string)])
    reference = hugging_face_tokenizer(args.vocab_dir)
    results = [
        compare(path, read_lines(path, args.lines), ours, graph, reference,
                args.batch_size)
        for path in (args.text or DEFAULT_TEXTS)
    ]
    summary = {"vocabulary_size": ours.vocabulary_size(),
               "batch_size": args.batch_size, "files": results}
    if args.json:
        print(json.dumps(summary))
    else:
        for r in results:
            print(f"{r['file']}: {r['mismatched_lines']} of {r['lines']} lines differ "
                  f"({r['tokens']} tokens); tokens/s: ours {r['ours_eager_tokens_per_s']} "
                  f"eager, {r['ours_tf_function_tokens_per_s']} tf.function, "
                  f"Hugging Face {r['hugging_face_tokens_per_s']}")
            for example in r["mismatch_examples"]:
                print(f"  differs: {example!r}")
    differing = sum(r["mismatched_lines"] for r in results)
    if args.check and differing:
        print(f"tokenizer parity: {differing} lines differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
