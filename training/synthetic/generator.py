"""Draw a labelled sample: applicants, their true class probabilities and expected coverage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.features import CLASS_NAMES
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

    def true_debits(self) -> dict[str, np.ndarray]:
        """Return each impairment's debits per applicant, as the rating rules computed them."""
        return rating_debits(self.features)


def generate(rows: int, seed: int) -> SyntheticSample:
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
    )


def _sample_classes(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one class index per row from its probabilities."""
    u = rng.random(len(probabilities))[:, None]
    return (u >= np.cumsum(probabilities[:, :-1], axis=1)).sum(axis=1).astype(np.int64)
