"""`keras-gpt1 COMMAND ...`: one module per command in `keras_gpt1.cli`.

Contract: every command takes `--json`, which makes the last line of
stdout one JSON object with its results. Bad input exits with status 2,
training that cannot go on (a NaN loss) with status 3, Ctrl-C with 130,
each with one line on stderr and no traceback.

Parsing flags imports no Keras or TensorFlow (`--help` and a bad flag
answer at once); a command loads them when it runs.
"""

import argparse
import importlib
import json
import os
import sys

# Command name -> module in keras_gpt1.cli with add_arguments(p) and run(args).
COMMANDS = {
    "prepare-corpus": "prepare_corpus_command",
    "pretrain": "pretrain_command",
    "generate": "generate_command",
    "demo": "demo_command",
    "attention": "attention_command",
    "finetune": "finetune_command",
    "evaluate": "evaluate_command",
    "evaluate-lm": "evaluate_lm_command",
    "perplexity": "perplexity_command",
    "predict": "predict_command",
    "convert": "convert_command",
    "tokenize": "tokenize_command",
    "export": "export_command",
}
PROGRAM = "keras-gpt1"
EXIT_BAD_INPUT = 2
EXIT_TRAINING_FAILED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and exit 2."""

    def error(self, message):
        _fail(message)


def _fail(message, status=EXIT_BAD_INPUT):
    sys.stderr.write(f"{PROGRAM}: error: {message}\n")
    sys.exit(status)


def build_parser():
    parser = _Parser(prog=PROGRAM, description="GPT-1 in Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"keras_gpt1.cli.{module_name}")
        p = sub.add_parser(name, help=module.__doc__.strip().splitlines()[0])
        module.add_arguments(p)
        p.add_argument(
            "--json", action="store_true",
            help="print the results as one JSON object on the last line",
        )
        p.set_defaults(_module=module)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    from keras_gpt1._native_logs import load_backend_quietly
    from keras_gpt1.errors import GPT1InputError
    from keras_gpt1.errors import GPT1TrainingError
    from keras_gpt1.errors import first_line

    try:
        load_backend_quietly()  # every command uses Keras
        result = args._module.run(args)
    except GPT1InputError as e:
        _fail(first_line(e))
    except GPT1TrainingError as e:
        _fail(first_line(e), EXIT_TRAINING_FAILED)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    if args.json:
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
