"""The targets each model is held to, and the verdicts the report and the console print.

Judged on the fresh-seed sample when the data is synthetic (a seed no training run draws from),
else on the held-out test split. The behaviour audit's verdicts come from training/audit.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training import audit

CLASSIFIER_LOG_LOSS_RATIO = 1.015
ACCURACY_GAP_POINTS = 0.4
ECE_LIMIT = 0.006
KNOCK_OUT_LOG_LOSS_RATIO = 1.10
REGRESSOR_RMSE_RATIO = 1.02
TRAINING_SECONDS = 180.0
COMPLETE_SHARE = 0.999  # reasons whose attributions add up to the difference they explain
FAITHFUL_SHARE = 0.80  # adverse applicants whose top reason is among their 3 largest debits
KEPT_SHARE = 1.0  # a factor worsened into the largest debit is among the reasons: always

Row = tuple[str, str, str, str, str]  # metric, model, Bayes, baseline, verdict


def number(value: Any) -> str:
    """A metric as the report writes it: 4 decimals below 100, whole numbers above."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, (int, float)):
        return f"{value:,.0f}"
    return str(value)


def judged(metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The sample the targets are judged on: the fresh seed if there is one, else the test split."""
    return (
        ("fresh seed", metrics["fresh"]) if "fresh" in metrics else ("test split", metrics["test"])
    )


def comparison_rows(task: str, metrics: dict[str, Any]) -> list[Row]:
    """(metric, model, Bayes, baseline, target verdict) rows for tables and the console."""
    if task == "classification":
        names = [
            ("log_loss", "bayes_log_loss", "baseline_log_loss"),
            ("accuracy", "bayes_accuracy", "baseline_accuracy"),
        ]
    else:
        names = [("rmse", "bayes_rmse", "baseline_rmse")]
    rows = [
        (
            metric,
            number(metrics[metric]),
            number(metrics[bayes]) if bayes in metrics else "n/a",
            number(metrics[baseline]),
            _verdict(metric, metrics),
        )
        for metric, bayes, baseline in names
    ]
    if task == "classification":
        ok = metrics["ece"] <= ECE_LIMIT
        rows.append(("ece", number(metrics["ece"]), "", "", _met(ok, f"limit {ECE_LIMIT}")))
        if "knock_out_log_loss" in metrics:
            ratio = metrics["knock_out_log_loss"] / metrics["knock_out_bayes_log_loss"]
            rows.append(
                (
                    "knock-out log_loss",
                    number(metrics["knock_out_log_loss"]),
                    number(metrics["knock_out_bayes_log_loss"]),
                    "",
                    _met(
                        ratio <= KNOCK_OUT_LOG_LOSS_RATIO,
                        f"{ratio:.3f}x Bayes (limit {KNOCK_OUT_LOG_LOSS_RATIO})",
                    ),
                )
            )
    return rows


def _met(ok: bool, detail: str) -> str:
    return f"{'met' if ok else 'MISSED'}: {detail}"


def _verdict(metric: str, metrics: dict[str, Any]) -> str:
    """Say whether a metric meets its target, and by what margin."""
    if metric == "accuracy":
        if "bayes_accuracy" not in metrics:
            return "n/a"
        gap = 100 * (metrics["bayes_accuracy"] - metrics["accuracy"])
        return _met(
            gap <= ACCURACY_GAP_POINTS, f"{gap:+.2f} pt below Bayes (limit {ACCURACY_GAP_POINTS})"
        )
    limit = CLASSIFIER_LOG_LOSS_RATIO if metric == "log_loss" else REGRESSOR_RMSE_RATIO
    value = metrics[metric]
    beats_baseline = value <= metrics[f"baseline_{metric}"]
    parts = [f"{'beats' if beats_baseline else 'WORSE THAN'} baseline"]
    ok = beats_baseline
    if f"bayes_{metric}" in metrics:
        ratio = value / metrics[f"bayes_{metric}"]
        ok = ok and ratio <= limit
        parts.insert(0, f"{ratio:.3f}x Bayes (limit {limit})")
    return _met(ok, ", ".join(parts))


def audit_rows(found: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(factor, pairs, mean effect, worst reversal, verdict) per factor of a behaviour audit."""
    rows = []
    for section in ("risk_factors", "money"):
        for name, result in found.get(section, {}).items():
            means = {k: v for k, v in result.items() if k.startswith("mean_")}
            worst = {k: v for k, v in result.items() if k != "pairs" and k not in means}
            bad = bool(audit.failures({section: {name: result}}))
            rows.append(
                (
                    name,
                    f"{result['pairs']:,}",
                    _shown(means) or "n/a",
                    _shown(worst),
                    "MISSED" if bad else "met",
                )
            )
    return rows


def _shown(values: dict[str, float]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:.3g}" for k, v in values.items())


def audit_summary(found: dict[str, Any]) -> str:
    """One line: reversals over how many pairs, and the coverage limit if checked."""
    results = {**found.get("risk_factors", {}), **found.get("money", {})}
    pairs = min(r["pairs"] for r in results.values())
    short = sum(r["pairs"] < audit.MIN_PAIRS for r in results.values())
    text = (
        f"{audit.reversals(results)} reversals beyond tolerance over {len(results)} factors "
        f"(at least {pairs:,} pairs each"
        + (f"; {short} short of {audit.MIN_PAIRS:,}" if short else "")
        + ")"
    )
    limits = found.get("coverage_limits")
    if limits:
        text += f"; {limits['above_cap']} of {limits['records']:,} coverages above the cap"
    return text


def reasons_rows(checks: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(check, measured, verdict) rows for the reasons' quality."""
    # (share, how many were judged, what it checks, target, the target's format)
    judged = [
        (
            "complete_share",
            "adverse_records",
            "complete (attributions add up to the difference, within tolerance)",
            COMPLETE_SHARE,
            ".1%",
        ),
        (
            "faithful_share",
            "faithfulness_judged",
            "faithful (top reason among the 3 largest true debits)",
            FAITHFUL_SHARE,
            ".0%",
        ),
        (
            "largest_debit_kept_share",
            "largest_debit_judged",
            "paired (a factor worsened into the largest debit is among the reasons)",
            KEPT_SHARE,
            ".0%",
        ),
    ]
    return [
        (
            label,
            f"{checks[share]:.2%} of {checks[count]:,}",
            _met(checks[share] >= target, f"target {target:{shown}}"),
        )
        for share, count, label, target, shown in judged
        if share in checks
    ]
