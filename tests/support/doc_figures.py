"""The manual's measured figures, as the default models' metadata.json states them.

docs/training.md's table of measured metrics and docs/decisions.md's table of the reasons'
checks quote the default models' report. Each figure below is formatted from metadata.json at
the precision the manual prints it, so a retrained default that moves a figure fails the docs
test until the manual says what it measures now.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paths import REPO


def _metadata(models_dir: Path, name: str) -> dict[str, Any]:
    versions = sorted((models_dir / name).iterdir(), key=lambda path: int(path.name))
    return json.loads((versions[-1] / "metadata.json").read_text())


def _ratio(model: float, bayes: float) -> str:
    return f"{model / bayes:.3f} × Bayes"


def _percent(share: float, decimals: int = 1) -> str:
    return f"{100 * share:.{decimals}f}%"


def _exponent(value: float) -> str:
    """As the manual writes it: 8.3e-7, not 8.3e-07."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _signed(value: float) -> str:
    """As the manual writes a signed figure: −0.34, with a minus sign, or 0.34."""
    return f"{'−' if value < 0 else ''}{abs(value):.2f}"


def figures(models_dir: Path) -> dict[Path, list[str]]:
    """Each document's measured figures, as it must print them."""
    classifier = _metadata(models_dir, "risk_class")
    regressor = _metadata(models_dir, "max_coverage")
    fresh, test = classifier["metrics"]["fresh"], classifier["metrics"]["test"]
    coverage_fresh, coverage_test = regressor["metrics"]["fresh"], regressor["metrics"]["test"]
    policy = classifier["metrics"]["policy"]
    outcomes = {name: count / policy["records"] for name, count in policy["outcomes"].items()}
    groups = classifier["metrics"]["fairness"]["groups"]
    coverage_groups = regressor["metrics"]["fairness"]["groups"]
    checks = classifier["explain"]["checks"]
    parity = checks["parity"]["max_abs_difference"]
    training = [
        f"{fresh['log_loss']:.4f} = {_ratio(fresh['log_loss'], fresh['bayes_log_loss'])}",
        f"{test['log_loss']:.4f} = {_ratio(test['log_loss'], test['bayes_log_loss'])}",
        f"baseline ({fresh['baseline_log_loss']:.4f})",
        f"{100 * (fresh['bayes_accuracy'] - fresh['accuracy']):.2f} pt below Bayes",
        f"{100 * (test['bayes_accuracy'] - test['accuracy']):.2f} pt below Bayes",
        f"| {fresh['ece']:.4f} | {test['ece']:.4f} |",
        f"| {_ratio(fresh['knock_out_log_loss'], fresh['knock_out_bayes_log_loss'])} | "
        f"{_ratio(test['knock_out_log_loss'], test['knock_out_bayes_log_loss'])} "
        f"({test['knock_out_rows']:,} rows) |",
        f"{coverage_fresh['rmse']:,.0f} = "
        f"{_ratio(coverage_fresh['rmse'], coverage_fresh['bayes_rmse'])}",
        f"{coverage_test['rmse']:,.0f} = "
        f"{_ratio(coverage_test['rmse'], coverage_test['bayes_rmse'])}",
        f"baseline ({coverage_fresh['baseline_rmse']:,.0f})",
        f"{_percent(checks['complete_share'], 0)} of {checks['adverse_records']:,} adverse "
        f"({_percent(checks['retried_share'], 2)} retried)",
        f"{_percent(checks['faithful_share'], 2)} of {checks['faithfulness_judged']:,} adverse",
        f"{_percent(checks['largest_debit_kept_share'], 0)} of {checks['largest_debit_judged']:,}",
        f"{_percent(policy['straight_through_rate'])} / {_percent(policy['acceptance_rate'])} / "
        f"{_percent(outcomes['refer'])} / {_percent(outcomes['decline'])}",
        f"{_percent(groups['group_a']['acceptance_rate'])} / "
        f"{_percent(groups['group_b']['acceptance_rate'])}, "
        f"AIR {groups['group_b']['adverse_impact_ratio']:.3f}",
        f"adjusted gap {100 * groups['group_b']['adjusted_gap']:.1f} pt, "
        f"p {_exponent(groups['group_b']['p_value'])}",
        f"${coverage_groups['group_a']['mean_coverage']:,.0f} / "
        f"${coverage_groups['group_b']['mean_coverage']:,.0f}, "
        + _signed(coverage_groups["group_b"]["standardized_mean_difference"]),
    ]
    decisions = [
        f"{_percent(checks['retried_share'], 2)} needed it) | "
        f"{_percent(checks['complete_share'], 2)} |",
        f"| {_percent(checks['faithful_share'], 2)} |",
        f"({checks['largest_debit_judged']:,} paired applicants) | "
        f"{_percent(checks['largest_debit_kept_share'], 0)} |",
        f"| {checks['gradient_max_difference']:.1f} |",
        f"| {_exponent(parity['difference'])} (difference), "
        f"{_exponent(parity['attributions'])} (attributions) |",
    ]
    return {REPO / "docs" / "training.md": training, REPO / "docs" / "decisions.md": decisions}


def missing_figures(models_dir: Path) -> list[str]:
    """Each figure a document does not print as the default models measure it."""
    return [
        f"{document.relative_to(REPO)}: {figure!r}"
        for document, expected in figures(models_dir).items()
        for figure in expected
        if figure not in document.read_text()
    ]
