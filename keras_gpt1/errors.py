"""The project's two exception types, and how an error becomes one line."""


class GPT1InputError(ValueError):
    """Bad input that users can fix: a missing file, an empty corpus, an id
    out of range, ...

    The message is one line that names the problem. The CLI prints it to
    stderr and exits with status 2, without a traceback.
    """


class GPT1TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN). One line; the CLI
    prints it to stderr and exits with status 3."""


def first_line(error):
    """The first line of `error`'s message, or its type name when empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
