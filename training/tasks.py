"""The two models as task descriptions: what each network learns, serves, is judged by and declares.

`training.pipeline.run` loops over TASKS; everything that differs between the classifier and the
regressor is here, once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from contract.metadata import Task
from training import baselines, evaluation, networks, outputs, plots
from training.dataset import Dataset
from training.features import CLASS_NAMES
from training.outputs import Declaration
from training.preprocessing import Preprocessor


@dataclass(frozen=True)
class Split:
    """One split's rows and their encoded network input."""

    rows: Dataset
    x: np.ndarray


class ModelTask(ABC):
    """One model to train: its network, its target, its served outputs, metrics and plots."""

    name: ClassVar[str]
    task: ClassVar[Task]
    description: ClassVar[str]
    structure: ClassVar[str]  # the network in words; {units} is replaced by the hidden widths
    batch_size: ClassVar[int]
    declaration: ClassVar[Declaration]

    @abstractmethod
    def build(self, width: int, preprocessor: Preprocessor) -> keras.Model:
        """Return the compiled network over `width` encoded columns."""

    @abstractmethod
    def labels(self, rows: Dataset) -> np.ndarray:
        """Return what the network is fitted to."""

    @abstractmethod
    def serve(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        """Turn the network's output into the signature's outputs (the units clients see)."""

    @abstractmethod
    def baseline(self, train: Split, test: Split, seed: int) -> np.ndarray:
        """Fit the gradient-boosting peer on the same rows and predict the test split."""

    @abstractmethod
    def metrics(self, test: Dataset, served: dict[str, np.ndarray], baseline: np.ndarray) -> dict:
        """Return the test-split metrics written under metrics.test."""

    @abstractmethod
    def draw(self, metrics: dict, test: Dataset, served: dict[str, np.ndarray], to: Path) -> None:
        """Write the task's plots into the version directory."""


class RiskClassTask(ModelTask):
    """The classifier: probabilities of standard, substandard and decline."""

    name = "risk_class"
    task = "classification"
    description = "Probabilities of the underwriting risk classes for one applicant."
    structure = (
        "Dense({units}, ReLU) hidden layers -> softmax over the 3 risk classes; sparse "
        "categorical cross-entropy"
    )
    batch_size = networks.CLASSIFIER_BATCH_SIZE
    declaration = outputs.RISK_CLASS

    def build(self, width: int, preprocessor: Preprocessor) -> keras.Model:
        return networks.build_classifier(width, len(CLASS_NAMES))

    def labels(self, rows: Dataset) -> np.ndarray:
        return rows.risk_class

    def serve(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": network_output}

    def baseline(self, train: Split, test: Split, seed: int) -> np.ndarray:
        return baselines.baseline_probabilities(
            train.x, train.rows.risk_class, test.x, seed, len(CLASS_NAMES)
        )

    def metrics(self, test: Dataset, served: dict[str, np.ndarray], baseline: np.ndarray) -> dict:
        probabilities = served["probabilities"].astype(np.float64)
        return evaluation.classifier_metrics(
            test.risk_class, probabilities, test.true_probabilities, baseline
        )

    def draw(self, metrics: dict, test: Dataset, served: dict[str, np.ndarray], to: Path) -> None:
        plots.confusion_heatmap(metrics["confusion_matrix"], to / "confusion_matrix.png")
        plots.reliability_diagram(metrics["calibration"], to / "reliability.png")


class MaxCoverageTask(ModelTask):
    """The regressor: the expected maximum coverage in dollars, monotone in income."""

    name = "max_coverage"
    task = "regression"
    description = "Maximum life coverage, in dollars, that underwriting would offer."
    structure = (
        "coverage / $1M = sum_j a_j(context) * phi_j(income) + b(context), linear output, "
        "squared error. context: Dense({units}, ReLU) layers on every encoded column except the "
        "three income columns (income, log income, financial capacity); a_j >= 0 (softplus); "
        "phi_j: two blocks of non-negative-weight Dense units with ReLU and min(x, 0) "
        "activations, so predicted coverage never falls as income rises (guaranteed by "
        "construction)"
    )
    batch_size = networks.REGRESSOR_BATCH_SIZE
    declaration = outputs.MAX_COVERAGE

    def build(self, width: int, preprocessor: Preprocessor) -> keras.Model:
        return networks.build_regressor(width, preprocessor.income_indices())

    def labels(self, rows: Dataset) -> np.ndarray:
        return rows.max_coverage / outputs.COVERAGE_SCALE

    def serve(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        # Undo the target transform here, so clients only ever see dollars.
        dollars = network_output[:, 0] * outputs.COVERAGE_SCALE
        return {"max_coverage": tf.maximum(dollars, 0.0)}

    def baseline(self, train: Split, test: Split, seed: int) -> np.ndarray:
        return baselines.baseline_coverage(train.x, train.rows.max_coverage, test.x, seed)

    def metrics(self, test: Dataset, served: dict[str, np.ndarray], baseline: np.ndarray) -> dict:
        predicted = served["max_coverage"].astype(np.float64)
        return evaluation.regressor_metrics(
            test.max_coverage, predicted, test.expected_coverage, baseline
        )

    def draw(self, metrics: dict, test: Dataset, served: dict[str, np.ndarray], to: Path) -> None:
        plots.predicted_vs_actual(
            test.max_coverage,
            served["max_coverage"].astype(np.float64),
            to / "predicted_vs_actual.png",
        )


TASKS: tuple[ModelTask, ...] = (RiskClassTask(), MaxCoverageTask())
