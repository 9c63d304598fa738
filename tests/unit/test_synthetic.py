"""The synthetic generator: reproducible, within the declaration, calibrated, actuarially sane."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from training.features import CLASS_NAMES, FEATURE_NAMES, FEATURES
from training.synthetic import (
    COVERAGE_CAP,
    COVERAGE_STEP,
    LABEL_NOISE,
    RULES_MARKDOWN,
    SyntheticSample,
    class_probabilities,
    coverage_for_class,
    generate,
)

LARGE_ROWS = 200_000
STANDARD, SUBSTANDARD, DECLINE = range(len(CLASS_NAMES))
LABEL_FIELDS = ("risk_class", "max_coverage", "true_probabilities", "expected_coverage")

# A healthy 40-year-old non-smoker: no debits at all, so any one impairment must show.
BASELINE: dict[str, Any] = {
    "age": 40,
    "sex": "male",
    "height_cm": 178.0,
    "weight_kg": 76.0,
    "tobacco_use": "never",
    "systolic_bp": 120,
    "diastolic_bp": 78,
    "bp_treatment": False,
    "total_cholesterol": 190.0,
    "hdl_cholesterol": 55.0,
    "hba1c": 5.3,
    "diabetes": "none",
    "family_history_count": 0,
    "cardiac_history": "none",
    "cancer_history": "none",
    "alcohol_drinks_per_week": 3,
    "dui_count_5y": 0,
    "moving_violations_3y": 0,
    "occupation_hazard": "low",
    "hazardous_avocation": False,
    "annual_income": 80_000.0,
    "net_worth": 150_000.0,
    "existing_coverage": 0.0,
}


def applicants(*changes: dict[str, Any]) -> dict[str, np.ndarray]:
    """Return one baseline applicant per change set, each differing from BASELINE as given."""
    rows = [{**BASELINE, **change} for change in changes]
    return {name: np.array([row[name] for row in rows]) for name in FEATURE_NAMES}


def non_standard(features: dict[str, np.ndarray]) -> np.ndarray:
    """Return P(substandard or decline) per applicant."""
    return 1.0 - class_probabilities(features)[:, STANDARD]


@pytest.fixture(scope="module")
def large() -> SyntheticSample:
    """A sample big enough to check shares and calibration to a fraction of a point."""
    return generate(LARGE_ROWS, seed=11)


def test_same_seed_gives_identical_samples() -> None:
    first, second = generate(3_000, seed=5), generate(3_000, seed=5)
    for name in FEATURE_NAMES:
        np.testing.assert_array_equal(first.features[name], second.features[name])
    for field in LABEL_FIELDS:
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))


def test_different_seeds_give_different_samples() -> None:
    first, second = generate(3_000, seed=5), generate(3_000, seed=6)
    assert not np.array_equal(first.features["age"], second.features["age"])
    assert not np.array_equal(first.true_probabilities, second.true_probabilities)


def test_columns_follow_the_declaration(large: SyntheticSample) -> None:
    assert list(large.features) == list(FEATURE_NAMES)
    for feature in FEATURES:
        column = large.features[feature.name]
        assert column.shape == (LARGE_ROWS,), feature.name
        if feature.type == "category":
            assert column.dtype == object and all(isinstance(v, str) for v in column[:1000])
            # Every category occurs on 200k rows, and nothing else does.
            assert set(np.unique(column)) == set(feature.categories or ()), feature.name
        elif feature.type == "boolean":
            assert column.dtype == np.bool_, feature.name
        else:
            expected = np.int64 if feature.type == "integer" else np.float64
            assert column.dtype == expected, feature.name
            assert np.isfinite(column).all(), feature.name
            assert column.min() >= feature.minimum and column.max() <= feature.maximum, feature.name


def test_measurements_and_money_are_rounded(large: SyntheticSample) -> None:
    for name in ("height_cm", "weight_kg", "hba1c"):
        tenths = large.features[name] * 10
        np.testing.assert_allclose(tenths, np.round(tenths), atol=1e-6, err_msg=name)
    for name in ("annual_income", "net_worth", "existing_coverage"):
        np.testing.assert_array_equal(large.features[name] % 100, 0, err_msg=name)


def test_marginals_are_plausible(large: SyntheticSample) -> None:
    f = large.features
    assert 25 <= np.percentile(f["age"], 10) and np.percentile(f["age"], 90) <= 66
    assert 0.11 <= np.mean(f["tobacco_use"] == "current") <= 0.15
    assert 0.065 <= np.mean(f["diabetes"] == "type_2") <= 0.095
    assert 50_000 <= np.median(f["annual_income"]) <= 70_000
    assert 0.0 < np.mean(f["net_worth"] < 0) < 0.1
    assert 0.3 <= np.mean(f["existing_coverage"] == 0) <= 0.7


def test_correlations_have_the_documented_sign(large: SyntheticSample) -> None:
    f = large.features
    bmi = f["weight_kg"] / (f["height_cm"] / 100) ** 2
    old, young = f["age"] >= 55, f["age"] < 35
    assert bmi[old].mean() > bmi[young].mean() + 1
    assert f["systolic_bp"][old].mean() > f["systolic_bp"][young].mean() + 8
    smoker, never = f["tobacco_use"] == "current", f["tobacco_use"] == "never"
    assert f["hdl_cholesterol"][smoker].mean() < f["hdl_cholesterol"][never].mean() - 3
    diabetic = f["diabetes"] != "none"
    assert f["hba1c"][diabetic].mean() > f["hba1c"][~diabetic].mean() + 1
    male = f["sex"] == "male"
    assert f["height_cm"][male].mean() > f["height_cm"][~male].mean() + 8
    assert f["weight_kg"][male].mean() > f["weight_kg"][~male].mean()
    mid_career = (f["age"] >= 40) & (f["age"] < 55)
    assert np.median(f["annual_income"][mid_career]) > np.median(f["annual_income"][young])


def test_class_shares_are_70_22_8(large: SyntheticSample) -> None:
    shares = np.bincount(large.risk_class, minlength=3) / LARGE_ROWS
    np.testing.assert_allclose(shares, [0.70, 0.22, 0.08], atol=0.03)


def test_true_probabilities_are_a_distribution_with_noise_mixed_in(large: SyntheticSample) -> None:
    p = large.true_probabilities
    assert p.shape == (LARGE_ROWS, 3) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # Uniform label noise puts at least eps/3 on every class.
    assert p.min() >= LABEL_NOISE / 3 - 1e-12


def test_labels_are_calibrated_to_the_true_probabilities(large: SyntheticSample) -> None:
    p, y = large.true_probabilities, large.risk_class
    assert y.dtype == np.int64 and set(np.unique(y)) == {STANDARD, SUBSTANDARD, DECLINE}
    for k in range(3):
        mean_p = p[:, k].mean()
        assert abs(np.mean(y == k) - mean_p) < 4 * np.sqrt(mean_p * (1 - mean_p) / len(y))
    # Within each quintile of P(standard), the observed standard rate matches too.
    edges = np.quantile(p[:, STANDARD], [0.2, 0.4, 0.6, 0.8])
    bins = np.digitize(p[:, STANDARD], edges)
    for b in range(5):
        in_bin = bins == b
        mean_p = p[in_bin, STANDARD].mean()
        tolerance = 4 * np.sqrt(mean_p * (1 - mean_p) / in_bin.sum())
        assert abs(np.mean(y[in_bin] == STANDARD) - mean_p) < tolerance


def test_coverage_labels_follow_the_financial_rule(large: SyntheticSample) -> None:
    coverage = large.max_coverage
    assert coverage.dtype == np.float64
    np.testing.assert_array_equal(coverage, coverage_for_class(large.features, large.risk_class))
    assert (coverage[large.risk_class == DECLINE] == 0).all()
    assert coverage.min() >= 0 and coverage.max() <= COVERAGE_CAP
    np.testing.assert_array_equal(coverage % COVERAGE_STEP, 0)


def test_expected_coverage_is_the_probability_weighted_coverage(large: SyntheticSample) -> None:
    by_class = [coverage_for_class(large.features, np.full(LARGE_ROWS, k)) for k in range(3)]
    weighted = sum(large.true_probabilities[:, k] * by_class[k] for k in range(3))
    np.testing.assert_allclose(large.expected_coverage, weighted, rtol=1e-12)
    standard_error = large.max_coverage.std() / np.sqrt(LARGE_ROWS)
    assert abs(large.max_coverage.mean() - large.expected_coverage.mean()) < 4 * standard_error


def test_baseline_applicant_is_very_likely_standard() -> None:
    assert non_standard(applicants({}))[0] < 0.06


@pytest.mark.parametrize(
    "change",
    [
        {"tobacco_use": "current"},
        {"tobacco_use": "former_1_5y"},
        {"weight_kg": 115.0},  # BMI 36.3 against 24.0
        {"systolic_bp": 165, "diastolic_bp": 100},
        {"bp_treatment": True},
        {"hdl_cholesterol": 25.0},  # total/HDL ratio 7.6
        {"diabetes": "type_2"},
        {"hba1c": 7.5},
        {"family_history_count": 2},
        {"cardiac_history": "event_within_5y"},
        {"cancer_history": "remission_under_5y"},
        {"alcohol_drinks_per_week": 35},
        {"dui_count_5y": 1},
        {"moving_violations_3y": 5},
        {"occupation_hazard": "high"},
        {"hazardous_avocation": True},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_one_impairment_raises_the_chance_of_a_non_standard_class(change: dict[str, Any]) -> None:
    baseline, impaired = non_standard(applicants({}, change))
    # Even a small debit moves a healthy applicant's small risk by a fifth or more.
    assert impaired > 1.2 * baseline


def test_impairments_cost_more_when_larger() -> None:
    risk = non_standard(
        applicants({"weight_kg": 100.0}, {"weight_kg": 110.0}, {"weight_kg": 120.0})
    )
    assert risk[0] < risk[1] < risk[2]
    risk = non_standard(applicants({"tobacco_use": "former_over_5y"}, {"tobacco_use": "current"}))
    assert risk[0] < risk[1]


@pytest.mark.parametrize(
    "change",
    [
        {"cancer_history": "active"},
        {"cardiac_history": "event_within_5y", "tobacco_use": "current"},
        {"hba1c": 10.5, "diabetes": "type_2"},
        {"dui_count_5y": 3},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_knock_outs_are_declined(change: dict[str, Any]) -> None:
    assert class_probabilities(applicants(change))[0, DECLINE] >= 0.97


def test_coverage_rises_with_income_and_falls_with_age() -> None:
    by_income = applicants(
        *({"annual_income": income} for income in (40_000.0, 80_000.0, 160_000.0))
    )
    coverage = coverage_for_class(by_income, np.full(3, STANDARD))
    assert coverage[0] < coverage[1] < coverage[2]
    by_age = applicants(*({"age": age} for age in (35, 45, 55, 62, 70)))
    coverage = coverage_for_class(by_age, np.full(5, STANDARD))
    assert (np.diff(coverage) < 0).all()


def test_coverage_by_class_and_existing_coverage() -> None:
    features = applicants({}, {})
    standard, substandard, decline = (
        coverage_for_class(features, np.full(2, k)) for k in (STANDARD, SUBSTANDARD, DECLINE)
    )
    assert (0 < substandard).all() and (substandard < standard).all()
    assert (decline == 0).all()
    # 20x an $80,000 income at 40, less what is already in force.
    with_policy = applicants({}, {"existing_coverage": 1_000_000.0}, {"existing_coverage": 3e6})
    np.testing.assert_array_equal(
        coverage_for_class(with_policy, np.full(3, STANDARD)), [1_600_000, 600_000, 0]
    )


def test_rules_are_published_for_the_report() -> None:
    assert RULES_MARKDOWN.startswith("## How the synthetic applicants are generated")
    assert "Knock-outs" in RULES_MARKDOWN and "income" in RULES_MARKDOWN
