"""The paper's supervised tasks by name (§3.3): what each reads and what
kind of label it predicts. Plain Python, no TensorFlow: the task model,
the data pipeline, export and the CLI all read these names from here.
"""

CLASSIFICATION = "classification"
ENTAILMENT = "entailment"
SIMILARITY = "similarity"
MULTIPLE_CHOICE = "multiple_choice"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, ENTAILMENT, SIMILARITY, MULTIPLE_CHOICE, REGRESSION)

# Text segments each task reads, in order (multiple choice also reads its
# answers). The question of a multiple-choice row is optional.
TASK_SEGMENTS = {
    CLASSIFICATION: ("text",),
    REGRESSION: ("text",),
    ENTAILMENT: ("premise", "hypothesis"),
    SIMILARITY: ("text_a", "text_b"),
    MULTIPLE_CHOICE: ("context", "question"),
}
# The answers of a multiple-choice row: `(batch, num_choices)` strings.
ANSWERS = "answers"
# Special tokens in one sequence of each task.
TASK_SPECIAL_TOKENS = {
    CLASSIFICATION: 2,  # s, e
    REGRESSION: 2,
    ENTAILMENT: 3,  # s, $, e
    SIMILARITY: 3,
    MULTIPLE_CHOICE: 3,
}

# Kinds of label (see data/task_labels.py for how each is read).
CLASS_LABELS = "classes"  # class names (classification, entailment, similarity)
SCORE_LABELS = "score"  # a number (regression, or `--regression`)
CHOICE_LABELS = "choice"  # the index of the right answer (multiple choice)


def label_kind(task, regression=False):
    """`classes`, `score` or `choice` for a task (and head)."""
    if task == MULTIPLE_CHOICE:
        return CHOICE_LABELS
    if task == REGRESSION or regression:
        return SCORE_LABELS
    return CLASS_LABELS


def text_inputs(task):
    """Names of a task's string inputs: its segments, then `answers` for
    multiple choice."""
    names = list(TASK_SEGMENTS[task])
    if task == MULTIPLE_CHOICE:
        names.append(ANSWERS)
    return names
