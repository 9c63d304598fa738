"""The behaviour audit: applicants that differ in one factor, as an actuary checks a rating engine.

For every feature with a declared risk direction, each base applicant is moved across the
factor's whole declared range, best to worst: categories through their order, flags from false
to true, numbers through both ends of the range and random values between them drawn for each
applicant (so 10,000 applicants cover a range densely, not at a few shared points), BMI-
conditioned height and weight only where BMI stays at or above the threshold. A reversal is a
worse value that lowers P(non-standard) or P(decline) by more than float32 rounding, or that
raises the coverage by more than a dollar (float32 at $10M). Money is swept the same way, on a
signed log scale (most applicants' money is far below the declared maxima): coverage must not
fall with income or net worth nor rise with cover in force, and the class must not move beyond
float32 rounding (the classifier takes no money input at all).
Each factor must also matter: its worst value raises the risk on average. The models are
checked through `Scorer`, which is what they serve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from contract.features import Feature
from contract.measures import MEASURES
from training.features import FEATURES, FEATURES_BY_NAME
from training.guidelines import COVERAGE_CAP, MONEY_MOVES

Columns = dict[str, np.ndarray]
Scorer = Callable[[Columns], Mapping[str, np.ndarray]]  # columns -> the served outputs
GRID = 8  # values per factor and applicant: GRID - 1 pairs each
PROBABILITY_TOLERANCE = 1e-6  # float32 rounding of a probability near 1
COVERAGE_TOLERANCE = 1.0  # dollars
MIN_PAIRS = 10_000  # pairs of different values per factor
MONEY_UNIT = 1_000.0  # the signed log scale's unit: dollars below it are one step
_SEED = 20_261_202


def _repeat(base: Columns, times: int) -> Columns:
    """Each base applicant `times` times in a row: [a, a, ..., b, b, ...]."""
    return {name: np.repeat(values, times) for name, values in base.items()}


def _spread(lows: np.ndarray, highs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[n, GRID] per applicant: its low, sorted random values between, its high."""
    inner = np.sort(rng.random((len(lows), GRID - 2)), axis=1)
    steps = np.concatenate([np.zeros((len(lows), 1)), inner, np.ones((len(lows), 1))], axis=1)
    return lows[:, None] + (highs - lows)[:, None] * steps


def _grid(feature: Feature, base: Columns, rng: np.random.Generator) -> np.ndarray:
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
    values = _spread(lows, highs, rng)
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
    return {
        k: np.asarray(v).reshape(n, width, *np.asarray(v).shape[1:])
        for k, v in score(columns).items()
    }


def _pairs(grid: np.ndarray) -> int:
    """Consecutive pairs whose values differ (a collapsed range checks nothing)."""
    return int(np.sum(grid[:, 1:] != grid[:, :-1]))


def _worst_fall(values: np.ndarray) -> float:
    """The largest drop between consecutive grid values (0 if none)."""
    return float(max(0.0, -np.min(np.diff(values, axis=1))))


def _mean_rise(values: np.ndarray) -> float:
    """How much the worst value raises the output over the best, on average over applicants."""
    return float(np.mean(values[:, -1] - values[:, 0]))


def risk_factors(score: Scorer, base: Columns) -> dict[str, dict[str, Any]]:
    """Per directed factor: pairs checked, the worst reversal of each output, the mean effect."""
    rng = np.random.default_rng(_SEED)
    found: dict[str, dict[str, Any]] = {}
    for feature in FEATURES:
        if feature.risk is None:
            continue
        grid = _grid(feature, base, rng)
        outputs = _sweep(score, base, feature.name, grid)
        result: dict[str, Any] = {"pairs": _pairs(grid)}
        if "probabilities" in outputs:
            p = outputs["probabilities"].astype(np.float64)
            result["worst_non_standard_fall"] = _worst_fall(1.0 - p[..., 0])
            result["worst_decline_fall"] = _worst_fall(p[..., -1])
            result["mean_non_standard_rise"] = _mean_rise(1.0 - p[..., 0])
        if "max_coverage" in outputs:
            coverage = outputs["max_coverage"].astype(np.float64)
            result["worst_coverage_rise"] = _worst_fall(-coverage)
            result["mean_coverage_fall"] = _mean_rise(-coverage)
        found[feature.name] = result
    return found


def _signed_log(dollars: np.ndarray) -> np.ndarray:
    return np.sign(dollars) * np.log1p(np.abs(dollars) / MONEY_UNIT)


def _from_signed_log(t: np.ndarray) -> np.ndarray:
    return np.sign(t) * MONEY_UNIT * np.expm1(np.abs(t))


def money(score: Scorer, base: Columns) -> dict[str, dict[str, Any]]:
    """Per financial feature: coverage moves only the way the guidelines say; the class never."""
    rng = np.random.default_rng(_SEED + 1)
    found: dict[str, dict[str, Any]] = {}
    n = len(base["age"])
    for name, way in MONEY_MOVES.items():
        feature = FEATURES_BY_NAME[name]
        low, high = _signed_log(np.asarray([feature.minimum or 0.0, feature.maximum or 0.0]))
        grid = _from_signed_log(_spread(np.full(n, low), np.full(n, high), rng))
        outputs = _sweep(score, base, name, grid)
        result: dict[str, Any] = {"pairs": _pairs(grid)}
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
        rich[name] = np.full(len(base["age"]), float(FEATURES_BY_NAME[name].maximum or 0.0))
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


def reversals(found: Mapping[str, Mapping[str, Any]]) -> int:
    """How many factors show a reversal beyond the tolerances."""
    count = 0
    for result in found.values():
        for key, value in result.items():
            if key.endswith("_fall") and key.startswith("worst") and value > PROBABILITY_TOLERANCE:
                count += 1
            if (
                key in ("worst_coverage_rise", "worst_coverage_reversal")
                and value > COVERAGE_TOLERANCE
            ):
                count += 1
            # The classifier takes no money input: what remains is float32 rounding, which
            # varies with a record's place in the batch (vectorised kernels, remainder rows).
            if key == "largest_probability_change" and value > PROBABILITY_TOLERANCE:
                count += 1
    return count


def failures(audited: Mapping[str, Any]) -> list[str]:
    """Why a model's audit forbids publishing it (empty: it may be published)."""
    problems = []
    for section in ("risk_factors", "money"):
        for name, result in audited.get(section, {}).items():
            if reversals({name: result}):
                problems.append(f"{name}: reversal {dict(result)}")
            if result["pairs"] < MIN_PAIRS:
                problems.append(f"{name}: only {result['pairs']:,} pairs (at least {MIN_PAIRS:,})")
    limits = audited.get("coverage_limits")
    if limits and (limits["above_cap"] or limits["below_zero"]):
        problems.append(f"coverage outside [0, cap]: {dict(limits)}")
    return problems
