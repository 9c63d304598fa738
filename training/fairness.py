"""Fairness tests of the decisions and coverage on the test split, by a protected group.

The group column (the synthetic generator's, or a user's `--fairness-column`) is read for this
report only: never a feature, never in an artifact input. Three measures, as insurance
regulators frame them:

- Approval rate by group and the adverse impact ratio (each group's acceptance rate over the
  most accepted group's); a ratio under 0.80 is flagged (the four-fifths rule).
- A Colorado-style test: a logistic regression of acceptance on the group plus the draft
  rule's controls (age, sex, tobacco use, face amount); a group is flagged when its
  coefficient is significant (Wald p < 0.05) and its adjusted acceptance gap (the average
  change in predicted acceptance if its members were in the reference group) is 5 points or more.
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
    labels, counts = np.unique(groups.astype(str), return_counts=True)
    kept = [str(label) for label, n in zip(labels, counts, strict=True) if n >= MIN_GROUP_ROWS]
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
            "adverse_impact_ratio": round(rates[g] / rates[reference], 6) if rates[reference]
            else 1.0,
        }
        for g in kept
    }  # fmt: skip
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
        "thresholds": {
            "adverse_impact_ratio": AIR_THRESHOLD,
            "p_value": P_VALUE_THRESHOLD,
            "adjusted_gap": GAP_THRESHOLD,
        },  # fmt: skip
    }


def coverage_report(column: str, groups: np.ndarray, coverage: np.ndarray) -> dict[str, Any]:
    """Mean predicted coverage by group and its standardized mean difference to the largest."""
    labels, counts = np.unique(groups.astype(str), return_counts=True)
    kept = [str(label) for label, n in zip(labels, counts, strict=True) if n >= MIN_GROUP_ROWS]
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
    return {"ran": True, "column": column, "reference_group": reference, "groups": by_group}


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
    """Logistic regression of acceptance on group indicators and controls; Wald test per group."""
    others = [g for g in kept if g != reference]
    indicators = np.stack([(groups == g).astype(np.float64) for g in others], axis=1)
    x = np.concatenate([np.ones((len(groups), 1)), indicators, controls], axis=1)
    y = accepted.astype(np.float64)
    beta, covariance = _logistic(x, y)
    results: dict[str, dict[str, Any]] = {}
    for j, g in enumerate(others, start=1):
        se = math.sqrt(max(covariance[j, j], 0.0))
        z = beta[j] / se if se > 0 else 0.0
        p = math.erfc(abs(z) / math.sqrt(2.0))
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


def _logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton's method (a tiny ridge keeps it finite
    when a group accepts everyone); returns the coefficients and their covariance."""
    beta = np.zeros(x.shape[1])
    ridge = 1e-6 * np.eye(x.shape[1])
    for _ in range(iterations):
        p = _sigmoid(x @ beta)
        weights = p * (1 - p)
        hessian = x.T @ (x * weights[:, None]) + ridge
        step = np.linalg.solve(hessian, x.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    p = _sigmoid(x @ beta)
    hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge
    return beta, np.linalg.inv(hessian)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))
