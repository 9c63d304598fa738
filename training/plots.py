"""PNG plots for the model reports (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.features import CLASS_NAMES  # noqa: E402

_DPI = 90


def training_curves(history: dict[str, list[float]], path: Path, title: str) -> None:
    """Training and validation loss per epoch."""
    figure, axes = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    axes.plot(epochs, history["loss"], label="train")
    axes.plot(epochs, history["val_loss"], label="validation")
    axes.set(xlabel="epoch", ylabel="loss", title=title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)


def reliability_diagram(calibration: dict[str, list[float]], path: Path) -> None:
    """Top-class confidence against observed accuracy, per bin."""
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.plot(calibration["confidence"], calibration["accuracy"], marker="o", label="model")
    axes.set(xlabel="confidence", ylabel="accuracy", title="Reliability diagram", xlim=(0, 1))
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)


def confusion_heatmap(matrix: list[list[int]], path: Path) -> None:
    """Confusion matrix, rows true class, columns predicted."""
    figure, axes = plt.subplots(figsize=(5, 4))
    counts = np.asarray(matrix)
    axes.imshow(counts, cmap="Blues")
    ticks = np.arange(len(CLASS_NAMES))
    axes.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true")
    axes.set_xticklabels(CLASS_NAMES)
    axes.set_yticklabels(CLASS_NAMES)
    for (row, column), value in np.ndenumerate(counts):
        axes.text(column, row, str(value), ha="center", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, path: Path) -> None:
    """Scatter of predicted against labelled coverage, in millions of dollars."""
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.scatter(actual / 1e6, predicted / 1e6, s=3, alpha=0.3)
    top = float(max(actual.max(), predicted.max())) / 1e6
    axes.plot([0, top], [0, top], linestyle="--", color="grey")
    axes.set(xlabel="actual ($M)", ylabel="predicted ($M)", title="Predicted vs actual coverage")
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
