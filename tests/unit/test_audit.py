"""The behaviour audit finds reversals when there are some (and none when there are none)."""

from __future__ import annotations

import numpy as np

from contract.measures import bmi
from training import audit
from training.synthetic import generate

BASE = generate(500, seed=9).features


def _probabilities(non_standard: np.ndarray) -> np.ndarray:
    p = np.clip(non_standard, 0.0, 1.0)
    return np.stack([1 - p, p / 2, p / 2], axis=1)


def test_a_scorer_that_prefers_high_blood_pressure_is_caught() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        systolic = np.asarray(columns["systolic_bp"], dtype=float)
        return {"probabilities": _probabilities(1.0 - (systolic - 80) / 160)}

    found = audit.risk_factors(score, BASE)
    assert found["systolic_bp"]["worst_non_standard_fall"] > 0.1
    assert found["diastolic_bp"]["worst_non_standard_fall"] == 0.0
    assert audit.reversals(found) >= 1


def test_coverage_rising_with_a_worse_category_or_falling_with_income_is_caught() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        smoker = np.asarray(columns["tobacco_use"]) == "current"
        income = np.asarray(columns["annual_income"], dtype=float)
        return {"max_coverage": 1e6 + 5e5 * smoker - 0.01 * income}

    risk = audit.risk_factors(score, BASE)
    assert risk["tobacco_use"]["worst_coverage_rise"] == 5e5
    money = audit.money(score, BASE)
    assert money["annual_income"]["worst_coverage_reversal"] > audit.COVERAGE_TOLERANCE
    assert money["existing_coverage"]["worst_coverage_reversal"] == 0.0


def test_a_monotone_scorer_passes_and_build_is_swept_above_the_threshold() -> None:
    seen: list[np.ndarray] = []

    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        seen.append(bmi(columns))
        return {"probabilities": _probabilities(np.maximum(bmi(columns) - 25, 0) / 40)}

    found = audit.risk_factors(score, BASE)
    assert audit.reversals(found) == 0
    weight_sweep = seen[[f for f in found].index("weight_kg")]
    assert weight_sweep.min() >= 25 - 1e-9  # the direction is declared only from BMI 25 up


def test_the_cap_check_counts_coverage_above_the_limit() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        return {"max_coverage": np.asarray(columns["net_worth"], dtype=float)}

    limits = audit.coverage_limits(score, BASE)
    assert limits["above_cap"] >= len(BASE["age"])  # every rich twin is over the limit


def test_a_reversal_in_a_narrow_band_is_found_between_the_ends() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        systolic = np.asarray(columns["systolic_bp"], dtype=float)
        band = (systolic >= 127) & (systolic <= 147)  # rated better than its neighbours
        return {"probabilities": _probabilities((systolic - 80) / 160 - 0.2 * band)}

    found = audit.risk_factors(score, BASE)
    assert found["systolic_bp"]["worst_non_standard_fall"] > 0.1


def test_a_lower_is_worse_factor_is_swept_from_high_to_low() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        hdl = np.asarray(columns["hdl_cholesterol"], dtype=float)
        return {"probabilities": _probabilities(hdl / 130)}  # wrongly: more HDL, more risk

    found = audit.risk_factors(score, BASE)
    assert found["hdl_cholesterol"]["worst_non_standard_fall"] > 0.1
    assert found["hdl_cholesterol"]["mean_non_standard_rise"] < 0  # best to worst lowers it


def test_money_moving_the_class_or_cover_in_force_raising_coverage_is_caught() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        wealth = np.asarray(columns["net_worth"], dtype=float)
        existing = np.asarray(columns["existing_coverage"], dtype=float)
        dip = (wealth > 1e6) & (wealth < 1.5e7)  # a band of positive wealth offered nothing
        return {
            "probabilities": _probabilities(np.full(len(wealth), 0.2) + 1e-9 * wealth),
            "max_coverage": np.where(dip, 0.0, 1e6) + 0.01 * existing,
        }

    money = audit.money(score, BASE)
    assert money["net_worth"]["largest_probability_change"] > 0
    assert money["net_worth"]["worst_coverage_reversal"] == 1e6
    assert money["existing_coverage"]["worst_coverage_reversal"] > audit.COVERAGE_TOLERANCE
    assert audit.reversals(money) == 3


def test_pairs_count_only_values_that_differ_and_a_shortfall_forbids_publishing() -> None:
    def score(columns: audit.Columns) -> dict[str, np.ndarray]:
        return {"probabilities": _probabilities(np.full(len(columns["age"]), 0.3))}

    found = audit.risk_factors(score, BASE)
    assert found["bp_treatment"]["pairs"] == len(BASE["age"])  # false -> true, once each
    assert found["systolic_bp"]["pairs"] <= 7 * len(BASE["age"])
    problems = audit.failures({"risk_factors": found})
    assert any("only" in p and "pairs" in p for p in problems)  # 500 applicants: too few
    assert found["tobacco_use"]["mean_non_standard_rise"] == 0.0  # flat: no factor matters


def test_float32_rounding_of_the_class_is_not_money_moving_it() -> None:
    """A record's place in a batch can change a probability by one float32 step, never more."""
    ulp = float(np.spacing(np.float32(1.0)))
    found = {"net_worth": {"pairs": 70_000, "largest_probability_change": ulp}}
    assert audit.reversals(found) == 0
    found["net_worth"]["largest_probability_change"] = 1e-4
    assert audit.reversals(found) == 1
