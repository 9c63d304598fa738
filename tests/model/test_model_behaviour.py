"""The trained networks behave sensibly on paired applicants that differ in one factor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from training.preprocessing import to_tensors
from training.synthetic import generate

Columns = dict[str, np.ndarray]
PAIRS = 400
# The classifier is not monotone by construction: a reversal of up to one point of probability
# on a paired applicant is tolerated. The regressor is monotone in income by construction.
TOLERANCE = 0.01


def _signature(models_dir: Path, name: str) -> Callable[..., dict[str, tf.Tensor]]:
    return tf.saved_model.load(str(models_dir / name / "1" / "saved_model")).signatures[
        "serving_default"
    ]


def _healthy_bases() -> Columns:
    """Typical applicants with the factors under test set to their healthy values."""
    columns = {k: v.copy() for k, v in generate(PAIRS, seed=2024).features.items()}
    height_m = columns["height_cm"] / 100
    columns["weight_kg"] = np.round(24.0 * height_m**2, 1)
    columns["tobacco_use"][:] = "never"
    columns["systolic_bp"][:] = 118
    columns["diastolic_bp"][:] = 76
    columns["diabetes"][:] = "none"
    columns["hba1c"][:] = 5.3
    columns["cardiac_history"][:] = "none"
    columns["cancer_history"][:] = "none"
    return columns


def _worsen(name: str, columns: Columns) -> Columns:
    worse = {k: v.copy() for k, v in columns.items()}
    if name == "smoker":
        worse["tobacco_use"][:] = "current"
    elif name == "high_bmi":
        worse["weight_kg"] = np.round(37.0 * (columns["height_cm"] / 100) ** 2, 1)
    elif name == "high_blood_pressure":
        worse["systolic_bp"][:] = 168
        worse["diastolic_bp"][:] = 102
    elif name == "diabetes":
        worse["diabetes"][:] = "type_2"
        worse["hba1c"][:] = 7.8
    elif name == "recent_cardiac_event":
        worse["cardiac_history"][:] = "event_within_5y"
    return worse


@pytest.mark.parametrize(
    "factor", ["smoker", "high_bmi", "high_blood_pressure", "diabetes", "recent_cardiac_event"]
)
def test_non_standard_probability_does_not_fall_as_a_risk_worsens(
    trained_models_dir: Path, factor: str
) -> None:
    classify = _signature(trained_models_dir, "risk_class")
    base = _healthy_bases()
    before = classify(**to_tensors(base))["probabilities"].numpy()[:, 1:].sum(axis=1)
    after = classify(**to_tensors(_worsen(factor, base)))["probabilities"].numpy()[:, 1:].sum(1)
    assert np.all(after >= before - TOLERANCE), np.min(after - before)
    assert np.mean(after - before) > 0.05  # and the factor matters on average


def test_coverage_does_not_fall_as_income_rises(trained_models_dir: Path) -> None:
    cover = _signature(trained_models_dir, "max_coverage")
    base = _healthy_bases()
    base["annual_income"] = np.linspace(20_000, 400_000, PAIRS)
    richer = {k: v.copy() for k, v in base.items()}
    richer["annual_income"] = base["annual_income"] * 1.5
    before = cover(**to_tensors(base))["max_coverage"].numpy()
    after = cover(**to_tensors(richer))["max_coverage"].numpy()
    assert np.all(after >= before - 1.0), np.min(after - before)  # float32 rounding only
    assert np.mean(after - before) > 0
