"""The behaviour audit: applicants that differ in one factor, as an actuary checks a rating engine.

For every feature with a declared risk direction, each base applicant is moved across the
factor's whole declared range, best to worst (categories through their order, flags from false
to true, BMI-conditioned height and weight only where BMI stays at or above the threshold). A
reversal is a worse value that lowers P(non-standard) or P(decline) by more than 0.001, or that
raises the coverage by more than a dollar (float32 at $10M). Money is swept the same way:
coverage must not fall with income or net worth nor rise with cover in force, and the risk
class must not move at all. The models are checked through `Scorer`, which is what they serve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from contract.features import Feature
from contract.measures import MEASURES
from training.features import FEATURES
from training.guidelines import COVERAGE_CAP

Columns = dict[str, np.ndarray]
Scorer = Callable[[Columns], Mapping[str, np.ndarray]]  # columns -> the served outputs
GRID = 8  # values per factor and applicant: GRID - 1 pairs each
PROBABILITY_TOLERANCE = 1e-3
COVERAGE_TOLERANCE = 1.0  # dollars
MONEY = {"annual_income": "rises", "net_worth": "rises", "existing_coverage": "falls"}


def _repeat(base: Columns, times: int) -> Columns:
    """Each base applicant `times` times in a row: [a, a, ..., b, b, ...]."""
    return {name: np.repeat(values, times) for name, values in base.items()}


def _grid(feature: Feature, base: Columns) -> np.ndarray:
    """[n, GRID] values of one factor per applicant, best to worst."""
    n = len(base["age"])
    risk = feature.risk
    assert risk is not None
    if feature.type == "category":
        levels = np.asarray(risk.order or feature.categories or (), dtype=object)
        return np.tile(levels, (n, 1))
    if feature.type == "boolean":
        return np.tile(np.asarray([False, True]), (n, 1))
    low, high = float(feature.minimum or 0.0), float(feature.maximum or 0.0)
    lows, highs = np.full(n, low), np.full(n, high)
    if risk.where is not None:
        lows, highs = _within_measure(feature, base, risk.where, lows, highs)
    steps = np.linspace(0.0, 1.0, GRID)[None, :]
    values = lows[:, None] + (highs - lows)[:, None] * steps
    if risk.worse == "lower":
        values = values[:, ::-1]
    if feature.type == "integer":
        values = np.rint(values)
    return values


def _within_measure(
    feature: Feature, base: Columns, where: tuple[str, float], lows: np.ndarray, highs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Narrow each applicant's range to where the measure (BMI) stays at or above its bound."""
    measure, bound = where
    assert measure in MEASURES and measure == "bmi"
    height_m = np.asarray(base["height_cm"], dtype=np.float64) / 100.0
    weight = np.asarray(base["weight_kg"], dtype=np.float64)
    if feature.name == "weight_kg":  # heavier: BMI rises; from the bound up
        lows = np.maximum(lows, bound * height_m**2)
    else:  # taller: BMI falls; up to the height where it reaches the bound
        highs = np.minimum(highs, 100.0 * np.sqrt(weight / bound))
    return lows, np.maximum(highs, lows)


def _sweep(score: Scorer, base: Columns, name: str, grid: np.ndarray) -> Mapping[str, np.ndarray]:
    """Score every applicant at every grid value of one feature: outputs shaped [n, GRID, ...]."""
    n, width = grid.shape
    columns = _repeat(base, width)
    columns[name] = grid.reshape(-1).astype(base[name].dtype)
    return {k: np.asarray(v).reshape(n, width, *np.asarray(v).shape[1:])
            for k, v in score(columns).items()}  # fmt: skip


def _worst_fall(values: np.ndarray) -> float:
    """The largest drop between consecutive grid values (0 if none)."""
    return float(max(0.0, -np.min(np.diff(values, axis=1))))


def risk_factors(score: Scorer, base: Columns) -> dict[str, dict[str, Any]]:
    """Per directed factor: pairs checked and the worst reversal of each output."""
    found: dict[str, dict[str, Any]] = {}
    for feature in FEATURES:
        if feature.risk is None:
            continue
        grid = _grid(feature, base)
        outputs = _sweep(score, base, feature.name, grid)
        result: dict[str, Any] = {"pairs": int(grid.shape[0] * (grid.shape[1] - 1))}
        if "probabilities" in outputs:
            p = outputs["probabilities"].astype(np.float64)
            result["worst_non_standard_fall"] = _worst_fall(1.0 - p[..., 0])
            result["worst_decline_fall"] = _worst_fall(p[..., -1])
        if "max_coverage" in outputs:
            result["worst_coverage_rise"] = _worst_fall(-outputs["max_coverage"].astype(float))
        found[feature.name] = result
    return found


def money(score: Scorer, base: Columns) -> dict[str, dict[str, Any]]:
    """Per financial feature: coverage moves only the way the guidelines say; the class never."""
    found: dict[str, dict[str, Any]] = {}
    for name, way in MONEY.items():
        feature = next(f for f in FEATURES if f.name == name)
        low, high = float(feature.minimum or 0.0), float(feature.maximum or 0.0)
        # Geometric steps: most applicants' money sits far below the declared maximum.
        steps = np.concatenate([[0.0], np.geomspace(1e3, max(high - low, 1e3), GRID - 1)])
        grid = np.tile(low + steps, (len(base["age"]), 1))
        outputs = _sweep(score, base, name, grid)
        result: dict[str, Any] = {"pairs": int(grid.shape[0] * (grid.shape[1] - 1))}
        if "max_coverage" in outputs:
            coverage = outputs["max_coverage"].astype(np.float64)
            wrong = -coverage if way == "rises" else coverage
            result["worst_coverage_reversal"] = _worst_fall(-wrong)
        if "probabilities" in outputs:
            p = outputs["probabilities"]
            result["largest_probability_change"] = float(np.max(np.abs(p - p[:, :1])))
        found[name] = result
    return found


def coverage_limits(score: Scorer, base: Columns) -> dict[str, Any]:
    """Coverage on the applicants and on the richest possible versions of them."""
    rich = dict(base)
    for name in ("annual_income", "net_worth"):
        feature = next(f for f in FEATURES if f.name == name)
        rich[name] = np.full(len(base["age"]), float(feature.maximum or 0.0))
    rich["existing_coverage"] = np.zeros(len(base["age"]))
    coverage = np.concatenate(
        [np.asarray(score(columns)["max_coverage"], np.float64) for columns in (base, rich)]
    )
    return {
        "records": int(len(coverage)),
        "above_cap": int(np.sum(coverage > COVERAGE_CAP)),
        "below_zero": int(np.sum(coverage < 0)),
        "highest": float(coverage.max()),
    }


def reversals(found: dict[str, dict[str, Any]]) -> int:
    """How many factors show a reversal beyond the tolerances."""
    count = 0
    for result in found.values():
        for key, value in result.items():
            if key.endswith("_fall") and value > PROBABILITY_TOLERANCE:
                count += 1
            if (
                key in ("worst_coverage_rise", "worst_coverage_reversal")
                and value > COVERAGE_TOLERANCE
            ):
                count += 1
            if key == "largest_probability_change" and value != 0.0:
                count += 1
    return count
