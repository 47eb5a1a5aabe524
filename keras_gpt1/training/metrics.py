"""Evaluation metrics of the paper's tasks, in NumPy: accuracy, F1 and
Matthews correlation for classes (and answers), Pearson and Spearman
correlation for scores."""

import numpy as np


def accuracy(labels, predictions):
    """Fraction of `predictions` equal to `labels` (int arrays `(n,)`)."""
    labels = np.asarray(labels).reshape(-1)
    predictions = np.asarray(predictions).reshape(-1)
    return float(np.mean(labels == predictions)) if labels.size else 0.0


def confusion_matrix(labels, predictions, num_classes):
    """`(num_classes, num_classes)` counts, rows = true class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def f1_score(labels, predictions, num_classes):
    """F1 of class 1 for two classes (GLUE's MRPC/QQP convention: the
    second label name is positive); the unweighted mean of the per-class
    F1s (macro F1) for more."""
    matrix = confusion_matrix(labels, predictions, num_classes)
    true_positives = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    denominator = predicted + actual
    per_class = np.divide(
        2 * true_positives, denominator,
        out=np.zeros_like(true_positives), where=denominator > 0,
    )
    if num_classes == 2:
        return float(per_class[1])
    return float(per_class.mean())


def matthews_correlation(labels, predictions, num_classes):
    """Matthews correlation coefficient (Gorodkin's multi-class form; the
    usual MCC for two classes). 0 when it is undefined."""
    matrix = confusion_matrix(labels, predictions, num_classes).astype(np.float64)
    total = matrix.sum()
    correct = np.trace(matrix)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    numerator = correct * total - np.dot(predicted, actual)
    denominator = np.sqrt(
        (total**2 - np.dot(predicted, predicted))
        * (total**2 - np.dot(actual, actual))
    )
    return float(numerator / denominator) if denominator > 0 else 0.0


def pearson_correlation(x, y):
    """Pearson's r of two float arrays `(n,)`; 0 when undefined."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    x = x - x.mean()
    y = y - y.mean()
    denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float(np.dot(x, y) / denominator) if denominator > 0 else 0.0


def ranks(x):
    """1-based ranks of `x`, ties sharing their average rank."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks_sorted = np.arange(1, len(x) + 1, dtype=np.float64)
    # Average the ranks within each run of equal values.
    starts = np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]])
    group = np.cumsum(starts) - 1
    sums = np.bincount(group, weights=ranks_sorted)
    counts = np.bincount(group)
    result = np.empty_like(ranks_sorted)
    result[order] = (sums / counts)[group]
    return result


def spearman_correlation(x, y):
    """Spearman's rho: Pearson's r of the (tie-averaged) ranks."""
    return pearson_correlation(ranks(x), ranks(y))


def majority_class_accuracy(labels):
    """The accuracy of always answering the most frequent label."""
    labels = np.asarray(labels).reshape(-1)
    if not labels.size:
        return 0.0
    return float(np.bincount(labels).max() / labels.size)


def classification_metrics(labels, logits):
    """`accuracy`, `f1`, `matthews_correlation` from labels `(n,)` and
    logits `(n, num_classes)` (answers of multiple choice included), and
    `majority_class_accuracy`, the accuracy to beat."""
    logits = np.asarray(logits)
    num_classes = logits.shape[-1]
    predictions = np.argmax(logits, axis=-1)
    return {
        "majority_class_accuracy": majority_class_accuracy(labels),
        "accuracy": accuracy(labels, predictions),
        "f1": f1_score(labels, predictions, num_classes),
        "matthews_correlation": matthews_correlation(
            labels, predictions, num_classes
        ),
    }


def regression_metrics(labels, predictions):
    """`pearson`, `spearman` and `mse` of scores `(n,)` or `(n, 1)`."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    return {
        "pearson": pearson_correlation(labels, predictions),
        "spearman": spearman_correlation(labels, predictions),
        "mse": float(np.mean((labels - predictions) ** 2)) if labels.size else 0.0,
    }
