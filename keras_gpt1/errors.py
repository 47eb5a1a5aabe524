"""The one exception type for bad input that users can fix."""


class GPT1InputError(ValueError):
    """Bad input: a missing file, an empty corpus, an id out of range, ...

    The message is one line that names the problem. The CLI prints it to
    stderr and exits with status 2, without a traceback.
    """


class GPT1TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN). One line; the CLI
    prints it to stderr and exits with status 3."""
