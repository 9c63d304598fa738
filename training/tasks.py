"""The two models as task descriptions: what each network reads, learns, serves and declares.

`training.pipeline.run` loops over TASKS in order (the coverage model is built on the trained
classifier); everything that differs between the two models is here, once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from contract.metadata import Task
from training import audit, baselines, evaluation, networks, outputs, plots
from training.dataset import Dataset
from training.explain import Explainer
from training.features import BMI_RISK_FROM, CLASS_NAMES, FEATURES
from training.outputs import Declaration
from training.preprocessing import Preprocessor

Encoded = dict[str, np.ndarray]


@dataclass(frozen=True)
class Split:
    """One split's rows and their encoded network inputs (the preprocessing's blocks)."""

    rows: Dataset
    x: Encoded


class ModelTask(ABC):
    """One model to train: its inputs, network, target, served outputs, metrics and plots."""

    name: ClassVar[str]
    task: ClassVar[Task]
    description: ClassVar[str]
    intended_use: ClassVar[str]  # the model card's words (with the limitations)
    limitations: ClassVar[tuple[str, ...]]
    structure: ClassVar[str]  # the network in words, for the report and metadata
    inputs: ClassVar[tuple[str, ...]]  # the features it reads, and why, in `reads`
    reads: ClassVar[str]
    batch_size: ClassVar[int]
    declaration: ClassVar[Declaration]

    @abstractmethod
    def build(self, x: Encoded, trained: dict[str, keras.Model]) -> keras.Model:
        """Return the compiled network for these inputs (and the models trained before it)."""

    @abstractmethod
    def labels(self, rows: Dataset) -> np.ndarray:
        """Return what the network is fitted to."""

    @abstractmethod
    def serve(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        """Turn the network's output into the signature's outputs (the units clients see)."""

    def unguarded(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        """The outputs before any safety clip in `serve`: what the audit holds to the limits."""
        return self.serve(network_output)

    def explainer(self, model: keras.Model, preprocessor: Preprocessor) -> Explainer | None:
        """The reason attributions exported beside the model, if it gives reasons."""
        return None

    @abstractmethod
    def baseline(self, train: Split, seed: int) -> Callable[[Encoded], np.ndarray]:
        """Fit the gradient-boosting peer on the same inputs; return its predictions' maker."""

    @abstractmethod
    def audit(
        self, score: audit.Scorer, base: audit.Columns, unguarded: audit.Scorer
    ) -> dict[str, Any]:
        """Check the outputs' behaviour on paired applicants (training/audit.py).

        `score` gives the served outputs, `unguarded` the network's own (see `unguarded`).
        """

    @abstractmethod
    def metrics(self, test: Dataset, served: dict[str, np.ndarray], baseline: np.ndarray) -> dict:
        """Return the test-split metrics written under metrics.test."""

    @abstractmethod
    def draw(self, metrics: dict, test: Dataset, served: dict[str, np.ndarray], to: Path) -> None:
        """Write the task's plots into the version directory."""


def _flat(x: Encoded, blocks: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([x[block] for block in blocks], axis=1)


class RiskClassTask(ModelTask):
    """The classifier: probabilities of standard, substandard and decline."""

    name = "risk_class"
    task = "classification"
    description = "Probabilities of the underwriting risk classes for one applicant."
    intended_use = (
        "Scores individual life-insurance applicants (adults 18-85, fully underwritten term "
        "and whole life) into standard, substandard or decline, for the decision policy to "
        "accept, refer to an underwriter or decline with reasons. It supports underwriters; "
        "referred applicants are decided by a person."
    )
    limitations = (
        "Reads only the declared medical, behavioural and demographic features; it knows "
        "nothing of conditions outside them (e.g. mental health, travel, family members' ages "
        "at death).",
        "Never reads income, wealth or existing coverage: money does not decide the risk class.",
        "Beyond the training ranges of a feature it extrapolates; the policy refers such "
        "applicants (out_of_range).",
        "Its probabilities are calibrated on the training population; a drifted population "
        "(see the drift metrics) needs revalidation before its decisions are relied on.",
    )
    structure = (
        "a latent risk score from positive-weight layers ({units} units, ReLU and min(x, 0)) "
        f"over the risk factors, the context (age, sex, BMI below {BMI_RISK_FROM:g}) entering "
        "the first layer only; a cumulative logit over the ordered classes with a learned noise "
        "floor; cross-entropy. Monotone by construction in every declared risk direction"
    )
    inputs = tuple(f.name for f in FEATURES if f.role != "financial")
    reads = (
        "medical, behavioural and demographic features: money never decides the risk class, so "
        "income, net worth and cover in force are not inputs at all"
    )
    batch_size = networks.CLASSIFIER_BATCH_SIZE
    declaration = outputs.RISK_CLASS

    def build(self, x: Encoded, trained: dict[str, keras.Model]) -> keras.Model:
        return networks.build_classifier(x["risk"].shape[1], x["context"].shape[1])

    def labels(self, rows: Dataset) -> np.ndarray:
        return rows.risk_class

    def serve(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": network_output}

    def explainer(self, model: keras.Model, preprocessor: Preprocessor) -> Explainer | None:
        return Explainer(model, preprocessor)

    def baseline(self, train: Split, seed: int) -> Callable[[Encoded], np.ndarray]:
        blocks = ("risk", "context")
        x, y = _flat(train.x, blocks), train.rows.risk_class
        predict = baselines.baseline_probabilities(x, y, seed, len(CLASS_NAMES))
        return lambda encoded: predict(_flat(encoded, blocks))

    def audit(
        self, score: audit.Scorer, base: audit.Columns, unguarded: audit.Scorer
    ) -> dict[str, Any]:
        return {"risk_factors": audit.risk_factors(score, base), "money": audit.money(score, base)}

    def metrics(self, test: Dataset, served: dict[str, np.ndarray], baseline: np.ndarray) -> dict:
        probabilities = served["probabilities"].astype(np.float64)
        return evaluation.classifier_metrics(
            test.risk_class, probabilities, test.true_probabilities, baseline, test.knocked_out
        )

    def draw(self, metrics: dict, test: Dataset, served: dict[str, np.ndarray], to: Path) -> None:
        plots.confusion_heatmap(metrics["confusion_matrix"], to / "confusion_matrix.png")
        plots.reliability_diagram(metrics["calibration"], to / "reliability.png")


class MaxCoverageTask(ModelTask):
    """The regressor: the expected maximum coverage in dollars, from the classifier's classes."""

    name = "max_coverage"
    task = "regression"
    description = "Maximum life coverage, in dollars, that underwriting would offer."
    intended_use = (
        "Proposes the largest face amount financial underwriting would offer an applicant, "
        "from income, net worth, existing coverage, age and the risk class probabilities; the "
        "decision policy rounds it down and caps it at the accelerated-underwriting limit."
    )
    limitations = (
        "An offer, not a need analysis: it does not know the applicant's debts, dependants "
        "or purpose of the insurance.",
        "Amounts above the company's retention limit are capped, never extrapolated; larger "
        "cases go to an underwriter.",
        "Follows income by design, so groups with lower incomes are offered less on average "
        "(see the fairness section's standardized mean difference).",
    )
    structure = (
        "coverage = sum over classes of P(class) x min(capacity x factor(class), retention "
        "limit), less a learned rounding allowance, floored at 0; P from the trained risk_class "
        "network (frozen, its very weights); factors standard >= substandard, decline 0; "
        "capacity from the financial guidelines (income multiple by age, share of net worth, "
        "less cover in force) with positive weights on income and wealth and a negative one on "
        "cover in force; squared error on coverage in $M"
    )
    inputs = tuple(f.name for f in FEATURES)
    reads = (
        "every feature: the risk factors through the classifier, so a worse risk can only lower "
        "the offer, and money through the guidelines' capacity, clipped at its declared limits"
    )
    batch_size = networks.REGRESSOR_BATCH_SIZE
    declaration = outputs.MAX_COVERAGE

    def build(self, x: Encoded, trained: dict[str, keras.Model]) -> keras.Model:
        classifier = trained[RiskClassTask.name]
        return networks.build_regressor(classifier, x["risk"].shape[1], x["context"].shape[1])

    def labels(self, rows: Dataset) -> np.ndarray:
        return rows.max_coverage / outputs.COVERAGE_SCALE

    def unguarded(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        # Undo the target transform here, so clients only ever see dollars.
        return {"max_coverage": network_output[:, 0] * outputs.COVERAGE_SCALE}

    def serve(self, network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        # The network keeps within [0, cap] itself (the audit checks it unguarded); the clip
        # makes float32 rounding agree with the declared bounds.
        dollars = self.unguarded(network_output)["max_coverage"]
        return {"max_coverage": tf.clip_by_value(dollars, 0.0, outputs.COVERAGE_CAP)}

    def baseline(self, train: Split, seed: int) -> Callable[[Encoded], np.ndarray]:
        blocks = ("risk", "context", "money")
        predict = baselines.baseline_coverage(_flat(train.x, blocks), train.rows.max_coverage, seed)
        return lambda encoded: predict(_flat(encoded, blocks))

    def audit(
        self, score: audit.Scorer, base: audit.Columns, unguarded: audit.Scorer
    ) -> dict[str, Any]:
        return {
            "risk_factors": audit.risk_factors(score, base),
            "money": audit.money(score, base),
            "coverage_limits": audit.coverage_limits(unguarded, base),
        }

    def metrics(self, test: Dataset, served: dict[str, np.ndarray], baseline: np.ndarray) -> dict:
        predicted = served["max_coverage"].astype(np.float64)
        return evaluation.regressor_metrics(
            test.max_coverage, predicted, test.expected_coverage, baseline
        )

    def draw(self, metrics: dict, test: Dataset, served: dict[str, np.ndarray], to: Path) -> None:
        predicted = served["max_coverage"].astype(np.float64)
        plots.predicted_vs_actual(test.max_coverage, predicted, to / "predicted_vs_actual.png")


TASKS: tuple[ModelTask, ...] = (RiskClassTask(), MaxCoverageTask())
