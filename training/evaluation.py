"""Test-split metrics for both models, beside the Bayes optimum and the baseline."""

from __future__ import annotations

import numpy as np

from training.features import CLASS_NAMES

_EPSILON = 1e-12
CALIBRATION_BINS = 10


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, _EPSILON, 1.0))))


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Share of records whose most probable class is the label."""
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """Counts with rows = true class, columns = predicted class."""
    k = len(CLASS_NAMES)
    counts = np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
    return counts.tolist()


def macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores."""
    scores = []
    for k in range(len(CLASS_NAMES)):
        true_positive = np.sum((predicted == k) & (labels == k))
        denominator = np.sum(predicted == k) + np.sum(labels == k)
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def calibration(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, list[float]]:
    """Reliability of the top-class confidence in equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    bins = np.minimum((confidence * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    table: dict[str, list[float]] = {"confidence": [], "accuracy": [], "count": []}
    for b in range(CALIBRATION_BINS):
        members = bins == b
        if members.any():
            table["confidence"].append(float(confidence[members].mean()))
            table["accuracy"].append(float(correct[members].mean()))
            table["count"].append(float(members.sum()))
    return table


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Count-weighted gap between confidence and accuracy over the bins."""
    table = calibration(labels, probabilities)
    counts = np.asarray(table["count"])
    gaps = np.abs(np.asarray(table["confidence"]) - np.asarray(table["accuracy"]))
    return float(np.sum(counts * gaps) / counts.sum())


def classifier_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    true_probabilities: np.ndarray | None,
    baseline_probabilities: np.ndarray,
    knocked_out: np.ndarray | None = None,
) -> dict[str, object]:
    """All classifier metrics named in metadata.json under metrics.test."""
    predicted = probabilities.argmax(axis=1)
    metrics: dict[str, object] = {
        "accuracy": accuracy(labels, probabilities),
        "log_loss": log_loss(labels, probabilities),
        "macro_f1": macro_f1(labels, predicted),
        "ece": expected_calibration_error(labels, probabilities),
        "confusion_matrix": confusion_matrix(labels, predicted),
        "calibration": calibration(labels, probabilities),
        "baseline_log_loss": log_loss(labels, baseline_probabilities),
        "baseline_accuracy": accuracy(labels, baseline_probabilities),
        "rows": len(labels),
    }
    if true_probabilities is not None:
        metrics["bayes_log_loss"] = log_loss(labels, true_probabilities)
        metrics["bayes_accuracy"] = accuracy(labels, true_probabilities)
    if knocked_out is not None and true_probabilities is not None and knocked_out.any():
        # The applicants the rules decline outright, whatever else: learned without thresholds.
        ko = knocked_out
        metrics["knock_out_rows"] = int(ko.sum())
        metrics["knock_out_log_loss"] = log_loss(labels[ko], probabilities[ko])
        metrics["knock_out_bayes_log_loss"] = log_loss(labels[ko], true_probabilities[ko])
    return metrics


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def regressor_metrics(
    actual: np.ndarray,
    predicted: np.ndarray,
    expected: np.ndarray | None,
    baseline: np.ndarray,
) -> dict[str, object]:
    """All regressor metrics named in metadata.json under metrics.test."""
    residual_ss = float(np.sum((actual - predicted) ** 2))
    total_ss = float(np.sum((actual - actual.mean()) ** 2)) or 1.0
    metrics: dict[str, object] = {
        "mae": float(np.mean(np.abs(actual - predicted))),
        "rmse": rmse(actual, predicted),
        "r2": 1.0 - residual_ss / total_ss,
        "baseline_rmse": rmse(actual, baseline),
        "rows": len(actual),
    }
    if expected is not None:
        metrics["bayes_rmse"] = rmse(actual, expected)
    return metrics
