"""Task labels -> ids: class names, regression scores, answer indices.

Three kinds of labels:

- `classes` (classification, entailment, similarity): any strings or
  integers. The label names are the distinct training labels, sorted
  (numerically when all are integers, e.g. `0, 1`; else alphabetically,
  e.g. `contradiction, entailment, neutral`); a label's id is its index
  there. The names are saved with the model.
- `score` (regression, or similarity with a regression head): a number.
- `choice` (multiple choice): the 0-based index of the right answer, or
  its letter (`A` is the first answer).
"""

import re
import string

import numpy as np

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.tasks import CHOICE_LABELS
from keras_gpt1.tasks import CLASS_LABELS
from keras_gpt1.tasks import SCORE_LABELS
from keras_gpt1.tasks import label_kind  # noqa: F401  (part of this module's API)

_INTEGER = re.compile(r"^[+-]?\d+$")


def _name(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def label_names_of(table):
    """Sorted distinct class names of a table's labels."""
    names = {_name(v) for v in table.labels}
    if all(_INTEGER.match(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


def encode_labels(table, kind, label_names=None):
    """A table's labels as a NumPy array for `model.fit`.

    Returns int32 class ids `(num_rows,)` (`classes`, against
    `label_names`), float32 scores `(num_rows, 1)` (`score`), or int32
    answer indices `(num_rows,)` (`choice`). Raises `GPT1InputError` naming
    the file, row and column of the first bad label.
    """
    column = table.label_column
    if kind == CLASS_LABELS:
        index = {name: i for i, name in enumerate(label_names)}
        ids = []
        for i, value in enumerate(table.labels):
            name = _name(value)
            if name not in index:
                known = ", ".join(label_names[:10])
                more = ", ..." if len(label_names) > 10 else ""
                raise GPT1InputError(
                    f"{table.where(i, column)}: label '{name}' was not seen in "
                    f"training (labels: {known}{more})"
                )
            ids.append(index[name])
        return np.asarray(ids, dtype="int32")
    if kind == SCORE_LABELS:
        scores = []
        for i, value in enumerate(table.labels):
            try:
                scores.append(float(value))
            except (TypeError, ValueError):
                raise GPT1InputError(
                    f"{table.where(i, column)}: label '{value}' is not a number"
                ) from None
        scores = np.asarray(scores, dtype="float32").reshape(-1, 1)
        if not np.all(np.isfinite(scores)):
            bad = int(np.nonzero(~np.isfinite(scores[:, 0]))[0][0])
            raise GPT1InputError(
                f"{table.where(bad, column)}: label is not a finite number"
            )
        return scores
    if kind == CHOICE_LABELS:
        return np.asarray(
            [_choice_index(table, i, v) for i, v in enumerate(table.labels)],
            dtype="int32",
        )
    raise ValueError(f"unknown label kind '{kind}'")


def _choice_index(table, i, value):
    name = _name(value)
    count = len(table.choices[i])
    if _INTEGER.match(name):
        index = int(name)
    elif len(name) == 1 and name.upper() in string.ascii_uppercase:
        index = string.ascii_uppercase.index(name.upper())
    else:
        index = -1
    if not 0 <= index < count:
        raise GPT1InputError(
            f"{table.where(i, table.label_column)}: label '{name}' is not an "
            f"answer index 0..{count - 1} (or a letter "
            f"A..{string.ascii_uppercase[min(count, 26) - 1]})"
        )
    return index
