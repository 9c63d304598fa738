"""The fairness report's measures on data whose disparity is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from training import fairness
from training.options import DEFAULT_GROUP_DISPARITY
from training.synthetic import generate


def applicants(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 99])  # not the stream the tests draw outcomes from
    return {
        "age": rng.integers(18, 80, n).astype(np.int64),
        "sex": rng.choice(np.array(["female", "male"], dtype=object), n),
        "tobacco_use": rng.choice(np.array(["never", "current"], dtype=object), n, p=[0.8, 0.2]),
        "face_amount": rng.choice([100_000.0, 250_000.0, 500_000.0], n),
    }


def test_no_disparity_is_not_flagged() -> None:
    rng = np.random.default_rng(1)
    controls = applicants(20_000, 1)
    groups = rng.choice(np.array(["a", "b"], dtype=object), 20_000, p=[0.7, 0.3])
    accepted = rng.random(20_000) < 0.85
    report = fairness.acceptance_report("group", groups, accepted, controls)
    assert report["ran"] and report["flagged_groups"] == []
    assert set(report["groups"]) == {"a", "b"}
    assert report["controls"] == ["age", "sex", "tobacco_use", "face_amount"]
    other = next(g for g in "ab" if g != report["reference_group"])
    assert report["groups"][other]["adverse_impact_ratio"] > 0.95
    assert abs(report["groups"][other]["adjusted_gap"]) < 0.02


def test_a_built_in_disparity_is_flagged_by_both_tests() -> None:
    rng = np.random.default_rng(2)
    controls = applicants(20_000, 2)
    groups = rng.choice(np.array(["a", "b"], dtype=object), 20_000, p=[0.7, 0.3])
    accepted = rng.random(20_000) < np.where(groups == "b", 0.60, 0.85)
    report = fairness.acceptance_report("group", groups, accepted, controls)
    b = report["groups"]["b"]
    assert report["reference_group"] == "a" and report["flagged_groups"] == ["b"]
    assert b["adverse_impact_ratio"] == pytest.approx(0.60 / 0.85, abs=0.03)
    assert b["air_flagged"] and b["test_flagged"]
    assert b["p_value"] < 1e-6 and b["adjusted_gap"] == pytest.approx(0.25, abs=0.03)


def test_a_gap_the_controls_explain_is_not_flagged_by_the_regression() -> None:
    """Acceptance falls with age; group b is older: a raw gap, no gap at equal age."""
    rng = np.random.default_rng(3)
    controls = applicants(30_000, 3)
    older = controls["age"] > 55
    groups = np.where(rng.random(30_000) < np.where(older, 0.6, 0.2), "b", "a").astype(object)
    accepted = rng.random(30_000) < 1 / (1 + np.exp(-(4.0 - 0.06 * controls["age"])))
    report = fairness.acceptance_report("group", groups, accepted, controls)
    b = report["groups"]["b"]
    assert report["groups"]["a"]["acceptance_rate"] - b["acceptance_rate"] > 0.05  # raw gap
    assert not b["test_flagged"] and abs(b["adjusted_gap"]) < 0.02


def test_small_groups_are_left_out_and_one_group_cannot_be_tested() -> None:
    controls = applicants(500, 4)
    groups = np.array(["a"] * 490 + ["b"] * 10, dtype=object)
    report = fairness.acceptance_report("race", groups, np.ones(500, bool), controls)
    assert report == {"ran": False, "reason": "fewer than two groups of 30 or more rows in 'race'"}


def test_coverage_smd_against_the_largest_group() -> None:
    rng = np.random.default_rng(5)
    groups = np.array(["a"] * 6_000 + ["b"] * 4_000, dtype=object)
    coverage = np.concatenate(
        [rng.normal(500_000, 100_000, 6_000), rng.normal(450_000, 100_000, 4_000)]
    )
    report = fairness.coverage_report("group", groups, coverage)
    assert report["reference_group"] == "a"
    assert report["groups"]["a"]["standardized_mean_difference"] == 0.0
    assert report["groups"]["b"]["standardized_mean_difference"] == pytest.approx(-0.5, abs=0.05)


def test_the_generator_group_is_not_a_feature_and_leaves_the_applicants_unchanged() -> None:
    plain = generate(2_000, 11)
    skewed = generate(2_000, 11, group_disparity=2.0)
    assert "synthetic_group" not in plain.features
    for name, values in plain.features.items():
        assert np.array_equal(values, skewed.features[name]), name
    assert np.array_equal(plain.risk_class, skewed.risk_class)
    assert set(plain.groups.tolist()) == {"group_a", "group_b"}
    risky = plain.true_probabilities[:, 0] < 0.5
    share = {
        d: np.mean(generate(2_000, 11, d).groups[risky] == "group_b")
        for d in (DEFAULT_GROUP_DISPARITY, 2.0)
    }
    assert share[2.0] > share[DEFAULT_GROUP_DISPARITY] + 0.2  # group_b follows risk
    assert (plain.face_amount >= 50_000).all() and (plain.face_amount % 10_000 == 0).all()


def test_a_group_accepted_without_exception_still_shows_the_others_gap() -> None:
    """Separation: the reference group's 100% sends its coefficient to infinity, and a Wald
    test would call a 7.7-point gap insignificant; the likelihood-ratio test does not."""
    rng = np.random.default_rng(6)
    controls = applicants(3_220, 6)
    groups = np.array(["a"] * 200 + ["b"] * 3_000 + ["c"] * 20, dtype=object)
    accepted = np.concatenate([np.ones(200, bool), rng.random(3_000) < 0.923, np.ones(20, bool)])
    report = fairness.acceptance_report("group", groups, accepted, controls)
    b = report["groups"]["b"]
    assert report["reference_group"] == "a" and report["excluded_groups"] == {"c": 20}
    assert b["p_value"] < 1e-6 and b["adjusted_gap"] == pytest.approx(0.077, abs=0.015)
    assert b["test_flagged"] and report["flagged_groups"] == ["b"]
