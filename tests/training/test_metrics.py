import numpy as np
import pytest

from keras_gpt1.training import metrics


def test_accuracy_f1_and_matthews_of_a_binary_example():
    labels = [1, 1, 0, 0, 1]
    predictions = [1, 0, 0, 1, 1]  # TP 2, TN 1, FP 1, FN 1
    assert metrics.accuracy(labels, predictions) == pytest.approx(0.6)
    assert metrics.f1_score(labels, predictions, 2) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert metrics.matthews_correlation(labels, predictions, 2) == pytest.approx(
        (2 * 1 - 1 * 1) / np.sqrt(3 * 3 * 2 * 2))


def test_multiclass_f1_is_macro_and_matthews_is_one_when_perfect():
    labels = [0, 1, 2, 2]
    assert metrics.matthews_correlation(labels, labels, 3) == pytest.approx(1.0)
    predictions = [0, 1, 1, 2]  # class F1s: 1, 2/3, 2/3
    assert metrics.f1_score(labels, predictions, 3) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_matthews_is_zero_when_one_class_is_always_predicted():
    assert metrics.matthews_correlation([0, 1, 0, 1], [1, 1, 1, 1], 2) == 0.0


def test_pearson_matches_numpy_corrcoef():
    x = np.array([1.0, 2.0, 3.0, 4.0, 7.0])
    y = np.array([2.0, 4.5, 5.0, 8.5, 9.0])
    assert metrics.pearson_correlation(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_spearman_uses_average_ranks_for_ties_and_ignores_monotone_maps():
    np.testing.assert_allclose(metrics.ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    x = np.array([0.1, 0.5, 0.3, 2.0])
    assert metrics.spearman_correlation(x, np.exp(x)) == pytest.approx(1.0)
    assert metrics.spearman_correlation(x, -x) == pytest.approx(-1.0)


def test_classification_and_regression_metric_dicts():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, -1.0]])
    result = metrics.classification_metrics([0, 1, 1], logits)
    assert set(result) == {"accuracy", "f1", "matthews_correlation",
                           "majority_class_accuracy"}
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["majority_class_accuracy"] == pytest.approx(2 / 3)
    result = metrics.regression_metrics([1.0, 2.0, 3.0], [[1.0], [2.0], [4.0]])
    assert set(result) == {"pearson", "spearman", "mse"}
    assert result["spearman"] == pytest.approx(1.0)
    assert result["mse"] == pytest.approx(1 / 3)
