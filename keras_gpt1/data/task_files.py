"""Labelled task files (TSV, CSV, JSONL) -> columns of strings.

Formats, chosen by file extension:

- `.tsv` / `.tab` / `.txt`: one row per line, fields split on tabs with no
  quoting (the GLUE convention; GLUE text holds stray quotes).
- `.csv`: RFC 4180 CSV (quoted fields may hold commas and newlines).
- `.jsonl` / `.ndjson` / `.json`: one JSON object per line; a
  multiple-choice row may hold its answers as one list.

Columns are named by a header row (TSV, CSV) or by keys (JSONL), or given
as 0-based positions (`"0"`, `"1"`) for files without a header. When no
column is named, the first row decides: it is a header if it holds one of
the usual names of the task (`sentence`, `sentence1`/`sentence2`,
`premise`/`hypothesis`, `label`, ...); otherwise the file is read as
headerless, its fields being the task's text segment(s) then the label
(`sentence<TAB>label`).

Rows are numbered as lines of the file from 1 (a header is row 1), and
every error names the file, the row and the column.
"""

import csv
import dataclasses
import io
import json
import os

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.tasks import CLASSIFICATION
from keras_gpt1.tasks import ENTAILMENT
from keras_gpt1.tasks import MULTIPLE_CHOICE
from keras_gpt1.tasks import REGRESSION
from keras_gpt1.tasks import SIMILARITY
from keras_gpt1.tasks import TASK_SEGMENTS
from keras_gpt1.tasks import TASKS

TSV = "tsv"
CSV = "csv"
JSONL = "jsonl"
FORMAT_OF_EXTENSION = {
    ".tsv": TSV,
    ".tab": TSV,
    ".txt": TSV,
    ".csv": CSV,
    ".jsonl": JSONL,
    ".ndjson": JSONL,
    ".json": JSONL,
}

# Column names tried, in order, when the caller names none.
DEFAULT_TEXT_COLUMNS = {
    CLASSIFICATION: [("sentence",), ("text",)],
    REGRESSION: [("sentence",), ("text",)],
    ENTAILMENT: [
        ("premise", "hypothesis"),
        ("sentence1", "sentence2"),
        ("question", "sentence"),
    ],
    SIMILARITY: [
        ("sentence1", "sentence2"),
        ("text_a", "text_b"),
        ("question1", "question2"),
        ("#1 String", "#2 String"),
    ],
    MULTIPLE_CHOICE: [("context", "question"), ("context",)],
}
DEFAULT_LABEL_COLUMNS = ("label", "gold_label", "score", "is_duplicate",
                         "Quality", "answer")
DEFAULT_CHOICE_COLUMNS = [("choices",), ("endings",), ("answers",)]


@dataclasses.dataclass
class TaskTable:
    """The columns a task reads from one file, as Python lists.

    Attributes:
        path: the file.
        texts: one list of `num_rows` strings per text segment of the task
            (`TASK_SEGMENTS`; a multiple-choice file without a question
            column gets empty questions).
        choices: multiple choice only: `num_rows` lists of answers.
        labels: raw label values (strings, or JSON numbers), or None.
        rows: the file row (line) number of each example, for messages.
        text_columns, label_column, choice_columns: the column names used.
    """

    path: str
    task: str
    texts: list
    choices: list
    labels: list
    rows: list
    text_columns: list
    label_column: str
    choice_columns: list

    def __len__(self):
        return len(self.rows)

    @property
    def num_choices(self):
        return len(self.choices[0]) if self.choices else 1

    def where(self, index, column):
        """`'FILE: row N, column C'` for error messages."""
        return f"{self.path}: row {self.rows[index]}, column '{column}'"


def file_format(path):
    """`tsv`, `csv` or `jsonl` from the extension (else from the content)."""
    extension = os.path.splitext(path)[1].lower()
    if extension in FORMAT_OF_EXTENSION:
        return FORMAT_OF_EXTENSION[extension]
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        first = f.readline()
    if first.lstrip().startswith("{"):
        return JSONL
    return TSV if "\t" in first else CSV


def _read_text(path):
    if not os.path.isfile(path):
        raise GPT1InputError(f"data file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        raise GPT1InputError(f"{path}: row {row}: not valid UTF-8") from None
    if not text.strip():
        raise GPT1InputError(f"{path}: empty file")
    return text


def _delimited_records(path, text, fmt):
    """`(row_number, fields)` of the non-blank rows of a TSV/CSV file."""
    if fmt == TSV:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, line.split("\t")
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                yield reader.line_num, fields
    except csv.Error as e:
        raise GPT1InputError(f"{path}: row {reader.line_num}: {e}") from None


def _jsonl_records(path, text):
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise GPT1InputError(
                f"{path}: row {number}: not a JSON object ({e.msg})"
            ) from None
        if not isinstance(record, dict):
            raise GPT1InputError(f"{path}: row {number}: not a JSON object")
        yield number, record


def _is_position(name):
    return isinstance(name, int) or (isinstance(name, str) and name.isdigit())


def _choose(candidates, available):
    for names in candidates:
        if all(n in available for n in names):
            return list(names)
    return None


def _resolve_columns(path, task, fmt, header, text_columns, label_column,
                     choice_columns, require_label):
    """Column names (or positions) to read, and whether row 1 is a header.

    `header` is the first row's fields (TSV/CSV) or keys (JSONL, always
    named). Returns `(texts, label, choices, has_header)`.
    """
    named = [c for c in (text_columns or []) + [label_column] +
             (choice_columns or []) if c is not None]
    if named and all(_is_position(c) for c in named):
        if fmt == JSONL:
            raise GPT1InputError(
                f"{path}: JSONL rows have no column positions; name the "
                f"columns by key (keys: {', '.join(map(str, header))})"
            )
        return (
            [int(c) for c in text_columns or []],
            None if label_column is None else int(label_column),
            [int(c) for c in choice_columns or []] or None,
            False,
        )
    available = set(header)
    texts = list(text_columns) if text_columns else _choose(
        DEFAULT_TEXT_COLUMNS[task], available
    )
    label = label_column
    if label is None:
        label = next((c for c in DEFAULT_LABEL_COLUMNS if c in available), None)
    choices = list(choice_columns) if choice_columns else None
    if task == MULTIPLE_CHOICE and choices is None:
        choices = _choose(DEFAULT_CHOICE_COLUMNS, available)

    headerless = (texts is None and not named and label is None
                  and task != MULTIPLE_CHOICE and fmt != JSONL)
    if headerless:
        # No usual name in row 1: a headerless `text(s)<TAB>label` file.
        count = len(TASK_SEGMENTS[task])
        if len(header) == count + 1 or (not require_label and len(header) == count):
            positions = list(range(count))
            label_position = count if len(header) == count + 1 else None
            return positions, label_position, None, False
        raise GPT1InputError(
            f"{path}: row 1: no header naming the columns "
            f"({' / '.join(', '.join(c) for c in DEFAULT_TEXT_COLUMNS[task])}) "
            f"and not a headerless file of {count} text column(s) then the "
            f"label (it has {len(header)} columns); name them with "
            "--text-column and --label-column"
        )
    if texts is None:
        expected = DEFAULT_TEXT_COLUMNS[task][0]
        missing = next(c for c in expected if c not in available)
        raise GPT1InputError(
            f"{path}: row 1, column '{missing}': no such column (columns: "
            f"{', '.join(map(str, header))}); name the text columns with "
            "--text-column"
        )
    for column in texts + (choices or []):
        if column not in available:
            raise GPT1InputError(
                f"{path}: row 1, column '{column}': no such column (columns: "
                f"{', '.join(map(str, header))})"
            )
    if label is not None and label not in available:
        if label_column is not None or require_label:
            raise GPT1InputError(
                f"{path}: row 1, column '{label}': no such column (columns: "
                f"{', '.join(map(str, header))})"
            )
        label = None
    if label is None and require_label:
        raise GPT1InputError(
            f"{path}: row 1, column 'label': no label column (columns: "
            f"{', '.join(map(str, header))}); name it with --label-column"
        )
    if task == MULTIPLE_CHOICE and not choices:
        raise GPT1InputError(
            f"{path}: row 1, column 'choices': no answer column (columns: "
            f"{', '.join(map(str, header))}); name it with --choice-column"
        )
    return texts, label, choices, True


def _check_text_count(path, task, texts):
    roles = TASK_SEGMENTS[task]
    allowed = (1, 2) if task == MULTIPLE_CHOICE else (len(roles),)
    if len(texts) not in allowed:
        raise GPT1InputError(
            f"{path}: task '{task}' reads {' or '.join(map(str, allowed))} "
            f"text column(s) ({', '.join(roles)}); got {len(texts)}: "
            f"{', '.join(map(str, texts))}"
        )


def _cell(path, row, record, column, fmt):
    """The value of `column` in one record, or a one-line error."""
    if fmt == JSONL:
        if column not in record or record[column] is None:
            raise GPT1InputError(
                f"{path}: row {row}, column '{column}': missing value"
            )
        return record[column]
    index = column if isinstance(column, int) else record["header"].index(column)
    fields = record["fields"]
    if index >= len(fields):
        raise GPT1InputError(
            f"{path}: row {row}, column '{column}': missing value (the row "
            f"has {len(fields)} fields)"
        )
    return fields[index]


def _as_text(path, row, column, value):
    if isinstance(value, (list, dict)):
        raise GPT1InputError(
            f"{path}: row {row}, column '{column}': expected text, got a "
            f"JSON {type(value).__name__}"
        )
    return value if isinstance(value, str) else str(value)


def read_task_file(
    path,
    task,
    text_columns=None,
    label_column=None,
    choice_columns=None,
    require_label=True,
):
    """Read the columns `task` needs from a TSV, CSV or JSONL file.

    Args:
        task: one of `TASKS`.
        text_columns: names (or 0-based positions) of the text segments in
            `TASK_SEGMENTS[task]` order; None: the usual names, or a
            headerless file.
        label_column: name or position of the label; None: the usual names.
        choice_columns: multiple choice: the answer columns, or one JSONL
            key holding a list of answers.
        require_label: False for prediction files (a label column is read
            if present).

    Returns a `TaskTable`. Raises `GPT1InputError` naming the file, row and
    column for a missing file, an empty file, a missing column or value, or
    rows with different numbers of answers.
    """
    if task not in TASKS:
        raise GPT1InputError(f"unknown task '{task}'; choose one of {', '.join(TASKS)}")
    path = os.fspath(path)
    fmt = file_format(path) if os.path.isfile(path) else None
    text = _read_text(path)
    if fmt == JSONL:
        records = list(_jsonl_records(path, text))
        header = list(records[0][1])  # the keys of the first object
    else:
        records = list(_delimited_records(path, text, fmt))
        header = records[0][1]
    texts, label, choices, has_header = _resolve_columns(
        path, task, fmt, header, text_columns, label_column, choice_columns,
        require_label,
    )
    _check_text_count(path, task, texts)
    if has_header and fmt != JSONL:  # every JSONL line is a row
        records = records[1:]
    if not records:
        raise GPT1InputError(f"{path}: no data rows (only a header)")

    segments = [[] for _ in TASK_SEGMENTS[task]]
    answers = [] if task == MULTIPLE_CHOICE else None
    labels = [] if label is not None else None
    rows = []
    for row, fields in records:
        record = fields if fmt == JSONL else {"fields": fields, "header": header}
        for i, column in enumerate(texts):
            value = _cell(path, row, record, column, fmt)
            segments[i].append(_as_text(path, row, column, value))
        if task == MULTIPLE_CHOICE:
            if len(texts) == 1:
                segments[1].append("")
            answers.append(_read_choices(path, row, record, choices, fmt))
            if len(answers[-1]) != len(answers[0]):
                raise GPT1InputError(
                    f"{path}: row {row}, column '{choices[0]}': "
                    f"{len(answers[-1])} answers where row {rows[0]} has "
                    f"{len(answers[0])}; every row needs the same number"
                )
        if label is not None:
            value = _cell(path, row, record, label, fmt)
            if isinstance(value, str) and not value.strip():
                raise GPT1InputError(f"{path}: row {row}, column '{label}': empty label")
            labels.append(value.strip() if isinstance(value, str) else value)
        rows.append(row)
    return TaskTable(
        path=path,
        task=task,
        texts=segments,
        choices=answers,
        labels=labels,
        rows=rows,
        text_columns=[str(c) for c in texts],
        label_column=None if label is None else str(label),
        choice_columns=None if choices is None else [str(c) for c in choices],
    )


def _read_choices(path, row, record, choices, fmt):
    """The answers of one multiple-choice row."""
    if fmt == JSONL and len(choices) == 1:
        value = _cell(path, row, record, choices[0], fmt)
        if not isinstance(value, list):
            raise GPT1InputError(
                f"{path}: row {row}, column '{choices[0]}': expected a list "
                "of answers"
            )
        answers = [_as_text(path, row, choices[0], v) for v in value]
    else:
        answers = [
            _as_text(path, row, c, _cell(path, row, record, c, fmt))
            for c in choices
        ]
    if len(answers) < 2:
        raise GPT1InputError(
            f"{path}: row {row}, column '{choices[0]}': {len(answers)} "
            "answer(s); multiple choice needs at least 2"
        )
    return answers


def table_from_texts(task, texts, choices=None):
    """A one-row `TaskTable` from strings given on the command line."""
    _check_text_count("--text", task, list(texts))
    segments = [[t] for t in texts]
    if task == MULTIPLE_CHOICE:
        if len(segments) == 1:
            segments.append([""])
        if not choices or len(choices) < 2:
            raise GPT1InputError("multiple choice needs at least 2 --choice answers")
    return TaskTable(
        path="--text",
        task=task,
        texts=segments,
        choices=[list(choices)] if task == MULTIPLE_CHOICE else None,
        labels=None,
        rows=[1],
        text_columns=list(TASK_SEGMENTS[task])[: len(texts)],
        label_column=None,
        choice_columns=["--choice"] if task == MULTIPLE_CHOICE else None,
    )
