"""Tokenize a text file with a model's tokenizer: one line of ids per input line."""

import os
import sys

# Lines tokenized per call: big enough to amortise graph overhead.
BATCH_LINES = 1024


def add_arguments(p):
    p.add_argument("--model", required=True, metavar="DIR",
                   help="model directory (or .keras file) with a tokenizer")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="UTF-8 text file; each line is tokenized on its own")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="where to write the ids (default: stdout)")


def read_lines(path):
    """Lines split on newline only (not on other Unicode line breaks)."""
    from keras_gpt1.errors import GPT1InputError

    if not os.path.isfile(path):
        raise GPT1InputError(f"input file not found: {path}")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise GPT1InputError(f"{path} is not UTF-8 text: {e.reason} at byte {e.start}") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def tokenize_lines(tokenizer, lines):
    """Lists of ids, one per line."""
    from keras_gpt1.token_ids import token_id_lists

    ids = []
    for start in range(0, len(lines), BATCH_LINES):
        ids.extend(token_id_lists(tokenizer, lines[start:start + BATCH_LINES]))
    return ids


def check_output_path(path):
    """Raise `GPT1InputError` unless `path` can be written as a file."""
    from keras_gpt1.errors import GPT1InputError

    if os.path.isdir(path):
        raise GPT1InputError(f"output is a directory: {path}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise GPT1InputError(f"output directory does not exist: {parent}")


def run(args):
    from keras_gpt1 import artifacts
    from keras_gpt1.errors import GPT1InputError

    if args.output:
        check_output_path(args.output)
    lines = read_lines(args.input)
    model = artifacts.load_model(args.model)
    if getattr(model, "tokenizer", None) is None:
        raise GPT1InputError(f"{args.model} has no tokenizer")
    ids = tokenize_lines(model.tokenizer, lines)
    text = "".join(" ".join(str(int(i)) for i in row) + "\n" for row in ids)
    if args.output:
        artifacts.write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return {"lines": len(ids), "tokens": sum(len(row) for row in ids)}
