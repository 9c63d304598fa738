"""Draw a labelled sample: applicants, their true class probabilities and expected coverage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.features import CLASS_NAMES
from training.options import DEFAULT_GROUP_DISPARITY
from training.synthetic.coverage import coverage_for_class
from training.synthetic.population import draw_features
from training.synthetic.rating import class_probabilities, rating_debits


@dataclass(frozen=True)
class SyntheticSample:
    """Applicant features with their sampled labels and the exact label distribution."""

    features: dict[str, np.ndarray]  # FEATURE_NAMES order; int64, float64, bool or str objects
    risk_class: np.ndarray  # int64 index into CLASS_NAMES, drawn from true_probabilities
    max_coverage: np.ndarray  # float64 dollars offered in the drawn class
    true_probabilities: np.ndarray  # float64 [n, 3], exact P(class | features), noise included
    expected_coverage: np.ndarray  # float64, exact E[max_coverage | features]
    # For the fairness report only, never features: a protected group and the amount applied for.
    groups: np.ndarray  # str objects, GROUPS
    face_amount: np.ndarray  # float64 dollars

    def true_debits(self) -> dict[str, np.ndarray]:
        """Return each impairment's debits per applicant, as the rating rules computed them."""
        return rating_debits(self.features)


GROUP_COLUMN = "synthetic_group"
GROUPS = ("group_a", "group_b")


def generate(
    rows: int, seed: int, group_disparity: float = DEFAULT_GROUP_DISPARITY
) -> SyntheticSample:
    """Draw `rows` applicants reproducibly from `seed`, with labels and their true distribution."""
    rng = np.random.default_rng(seed)
    features = draw_features(rng, rows)
    probabilities = class_probabilities(features)
    risk_class = _sample_classes(rng, probabilities)
    expected = sum(
        (
            probabilities[:, k] * coverage_for_class(features, np.full(rows, k))
            for k in range(len(CLASS_NAMES))
        ),
        np.zeros(rows),
    )
    return SyntheticSample(
        features=features,
        risk_class=risk_class,
        max_coverage=coverage_for_class(features, risk_class),
        true_probabilities=probabilities,
        expected_coverage=expected,
        **_for_fairness(seed, features, probabilities, group_disparity),
    )


def _for_fairness(
    seed: int, features: dict[str, np.ndarray], probabilities: np.ndarray, disparity: float
) -> dict[str, np.ndarray]:
    """A protected group and a face amount, from their own random stream (so the applicants and
    labels of a seed stay the same whatever the disparity).

    group_b (about 30%) is more common among lower incomes and, by `disparity`, among worse
    health risks; the face amount applied for is 5 to 15 times income, in $10,000 steps.
    """
    rng = np.random.default_rng([seed, 0xFA1])
    income = features["annual_income"]
    income_rank = np.log(np.maximum(income, 20_000) / 60_000)
    risk = np.clip(1.0 - probabilities[:, 0], 1e-6, 1 - 1e-6)
    risk_logit = np.log(risk / (1 - risk))
    risk_z = (risk_logit - risk_logit.mean()) / (risk_logit.std() or 1.0)
    logit = np.log(0.3 / 0.7) - 0.6 * income_rank + disparity * risk_z
    in_b = rng.random(len(income)) < 1.0 / (1.0 + np.exp(-logit))
    multiple = rng.integers(5, 16, len(income))
    face = np.clip(np.round(multiple * np.maximum(income, 30_000) / 10_000) * 10_000, 50_000, 5e6)
    return {"groups": np.where(in_b, GROUPS[1], GROUPS[0]).astype(object), "face_amount": face}


def _sample_classes(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one class index per row from its probabilities."""
    u = rng.random(len(probabilities))[:, None]
    return (u >= np.cumsum(probabilities[:, :-1], axis=1)).sum(axis=1).astype(np.int64)
