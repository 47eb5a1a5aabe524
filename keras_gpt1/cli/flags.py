"""Flags shared by several commands."""

import argparse


def add_xla_flag(p):
    p.add_argument("--xla", action=argparse.BooleanOptionalAction, default=True,
                   help="compile with XLA (default on; --no-xla to turn off)")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
