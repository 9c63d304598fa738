"""Fairness tests of the decisions and coverage on the test split, by a protected group.

The group column (the synthetic generator's, or a user's `--fairness-column`) is read for this
report only: never a feature, never in an artifact input. Three measures, as insurance
regulators frame them:

- Approval rate by group and the adverse impact ratio (each group's acceptance rate over the
  most accepted group's); a ratio under 0.80 is flagged (the four-fifths rule).
- A Colorado-style test: a logistic regression of acceptance on the group plus the draft
  rule's controls (age, sex, tobacco use, face amount); a group is flagged when its
  coefficient is significant (likelihood-ratio p < 0.05: unlike a Wald test, it holds when a
  group is accepted without exception) and its adjusted acceptance gap (the average change in
  predicted acceptance if its members were in the reference group) is 5 points or more.
- The standardized mean difference of predicted coverage (reported; coverage follows income
  by design, so a difference is for the underwriter to explain, not a flag by itself).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

AIR_THRESHOLD = 0.80
P_VALUE_THRESHOLD = 0.05
GAP_THRESHOLD = 0.05  # five percentage points of acceptance
MIN_GROUP_ROWS = 30  # fewer: a group's rate is too noisy to test
CONTROLS = ("age", "sex", "tobacco_use", "face_amount")


def not_run(reason: str) -> dict[str, Any]:
    """The report of a test that could not run, saying why."""
    return {"ran": False, "reason": reason}


def acceptance_report(
    column: str,
    groups: np.ndarray,
    accepted: np.ndarray,
    controls: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """Acceptance by group, adverse impact ratios and the Colorado-style regression test."""
    kept, excluded = _testable(groups)
    if len(kept) < 2:
        return not_run(f"fewer than two groups of {MIN_GROUP_ROWS} or more rows in {column!r}")
    rows = np.isin(groups.astype(str), kept)
    groups, accepted = groups.astype(str)[rows], accepted[rows].astype(bool)
    rates = {g: float(accepted[groups == g].mean()) for g in kept}
    reference = max(kept, key=lambda g: (rates[g], -kept.index(g)))
    by_group = {
        g: {
            "rows": int(np.sum(groups == g)),
            "acceptance_rate": round(rates[g], 6),
            "adverse_impact_ratio": round(rates[g] / rates[reference], 6)
            if rates[reference]
            else 1.0,
        }
        for g in kept
    }
    for figures in by_group.values():
        figures["air_flagged"] = figures["adverse_impact_ratio"] < AIR_THRESHOLD
    design, names, used = _controls({k: v[rows] for k, v in controls.items()})
    regression = _group_test(groups, accepted, reference, kept, design, names)
    for g, test in regression.items():
        by_group[g] |= test
    flagged = sorted(g for g, f in by_group.items() if f["air_flagged"] or f.get("test_flagged"))
    return {
        "ran": True,
        "column": column,
        "reference_group": reference,
        "groups": by_group,
        "controls": used,
        "flagged_groups": flagged,
        "excluded_groups": excluded,
        "thresholds": {
            "adverse_impact_ratio": AIR_THRESHOLD,
            "p_value": P_VALUE_THRESHOLD,
            "adjusted_gap": GAP_THRESHOLD,
        },
    }


def coverage_report(column: str, groups: np.ndarray, coverage: np.ndarray) -> dict[str, Any]:
    """Mean predicted coverage by group and its standardized mean difference to the largest."""
    kept, excluded = _testable(groups)
    if len(kept) < 2:
        return not_run(f"fewer than two groups of {MIN_GROUP_ROWS} or more rows in {column!r}")
    groups = groups.astype(str)
    reference = max(kept, key=lambda g: (int(np.sum(groups == g)), g))
    base = coverage[groups == reference]
    by_group = {}
    for g in kept:
        values = coverage[groups == g]
        pooled = math.sqrt((values.var(ddof=1) + base.var(ddof=1)) / 2)
        smd = (values.mean() - base.mean()) / pooled if pooled else 0.0
        by_group[g] = {
            "rows": len(values),
            "mean_coverage": round(float(values.mean()), 2),
            "standardized_mean_difference": round(float(smd), 6),
        }
    return {
        "ran": True,
        "column": column,
        "reference_group": reference,
        "groups": by_group,
        "excluded_groups": excluded,
    }


def _testable(groups: np.ndarray) -> tuple[list[str], dict[str, int]]:
    """The groups with enough rows to test, and the others with their row counts."""
    labels, counts = np.unique(groups.astype(str), return_counts=True)
    kept = [str(g) for g, n in zip(labels, counts, strict=True) if n >= MIN_GROUP_ROWS]
    excluded = {str(g): int(n) for g, n in zip(labels, counts, strict=True) if n < MIN_GROUP_ROWS}
    return kept, excluded


def _controls(columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list[str], list[str]]:
    """The regression's control columns from what the data has (face amount may be missing)."""
    design, names, used = [], [], []
    if "age" in columns:
        age = columns["age"].astype(np.float64)
        design.append((age - age.mean()) / (age.std() or 1.0))
        names.append("age")
        used.append("age")
    if "sex" in columns:
        design.append((columns["sex"].astype(str) == "male").astype(np.float64))
        names.append("sex=male")
        used.append("sex")
    if "tobacco_use" in columns:
        tobacco = columns["tobacco_use"].astype(str)
        for level in sorted(set(tobacco.tolist()) - {"never"}):
            design.append((tobacco == level).astype(np.float64))
            names.append(f"tobacco_use={level}")
        used.append("tobacco_use")
    if "face_amount" in columns:
        amount = np.log1p(np.maximum(columns["face_amount"].astype(np.float64), 0.0))
        design.append((amount - amount.mean()) / (amount.std() or 1.0))
        names.append("log face_amount")
        used.append("face_amount")
    n = len(next(iter(columns.values()))) if columns else 0
    matrix = np.stack(design, axis=1) if design else np.zeros((n, 0))
    return matrix, names, used


def _group_test(
    groups: np.ndarray,
    accepted: np.ndarray,
    reference: str,
    kept: list[str],
    controls: np.ndarray,
    control_names: list[str],
) -> dict[str, dict[str, Any]]:
    """Logistic regression of acceptance on group indicators and controls; per group, the
    likelihood-ratio test of its indicator and its adjusted gap."""
    others = [g for g in kept if g != reference]
    indicators = np.stack([(groups == g).astype(np.float64) for g in others], axis=1)
    x = np.concatenate([np.ones((len(groups), 1)), indicators, controls], axis=1)
    y = accepted.astype(np.float64)
    beta, fitted = _logistic(x, y)
    results: dict[str, dict[str, Any]] = {}
    for j, g in enumerate(others, start=1):
        _, without = _logistic(np.delete(x, j, axis=1), y)
        statistic = max(2.0 * (fitted - without), 0.0)
        p = math.erfc(math.sqrt(statistic / 2.0))  # chi-squared, one degree of freedom
        members = x[groups == g]
        as_reference = members.copy()
        as_reference[:, j] = 0.0
        gap = float(np.mean(_sigmoid(as_reference @ beta) - _sigmoid(members @ beta)))
        results[g] = {
            "coefficient": round(float(beta[j]), 6),
            "p_value": float(f"{p:.6g}"),
            "adjusted_gap": round(gap, 6),
            "test_flagged": bool(p < P_VALUE_THRESHOLD and gap >= GAP_THRESHOLD),
        }
    results[reference] = {"test_flagged": False}
    return results


def _logistic(x: np.ndarray, y: np.ndarray, iterations: int = 100) -> tuple[np.ndarray, float]:
    """Maximum-likelihood logistic regression by Newton's method, halving a step that would
    lower the likelihood; returns the coefficients and the log-likelihood.

    Where a group is accepted without exception the coefficients grow without bound while the
    likelihood converges: the likelihood is what the test uses, and the gap stays right.
    """
    beta = np.zeros(x.shape[1])
    ridge = 1e-9 * np.eye(x.shape[1])  # keeps the Newton system solvable, not the answer
    current = _log_likelihood(x, y, beta)
    for _ in range(iterations):
        p = _sigmoid(x @ beta)
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, x.T @ (y - p))
        for _ in range(30):
            trial = _log_likelihood(x, y, beta + step)
            if trial >= current - 1e-12:
                break
            step /= 2
        beta, gain, current = beta + step, trial - current, trial
        if gain < 1e-10:
            break
    return beta, current


def _log_likelihood(x: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    z = x @ beta
    # log(sigmoid(z)) = -log(1 + e^-z), computed without overflow either way.
    return float(np.sum(y * -np.logaddexp(0.0, -z) + (1 - y) * -np.logaddexp(0.0, z)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))
