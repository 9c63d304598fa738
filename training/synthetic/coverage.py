"""Maximum coverage: financial underwriting, from the insurer's guidelines (training.guidelines)."""

from __future__ import annotations

import numpy as np

from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    NET_WORTH_FRACTION,
)
from training.synthetic.rules import Columns, number

CLASS_COVERAGE_FACTORS = (1.0, 0.5, 0.0)  # standard, substandard, decline
COVERAGE_STEP = 10_000.0


def coverage_for_class(features: Columns, risk_class: np.ndarray) -> np.ndarray:
    """Return the maximum coverage in dollars each applicant gets in the given risk class."""
    age = number(features, "age")
    multiple = np.select(
        [age < limit for limit, _ in INCOME_MULTIPLES],
        [m for _, m in INCOME_MULTIPLES],
        INCOME_MULTIPLE_65_PLUS,
    )
    by_income = multiple * number(features, "annual_income")
    by_wealth = NET_WORTH_FRACTION * np.maximum(number(features, "net_worth"), 0.0)
    room = np.maximum(np.maximum(by_income, by_wealth) - number(features, "existing_coverage"), 0)
    offered = room * np.asarray(CLASS_COVERAGE_FACTORS)[np.asarray(risk_class)]
    return np.floor(np.minimum(offered, COVERAGE_CAP) / COVERAGE_STEP) * COVERAGE_STEP
