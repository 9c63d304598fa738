"""report.md (the model card) and the console summary table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contract.card import fairness_markdown
from contract.explanations import SEGMENTS, Explanation
from contract.features import Feature
from contract.metadata import ModelMetadata
from training import audit
from training.targets import (
    TRAINING_SECONDS,
    audit_rows,
    audit_summary,
    comparison_rows,
    judged,
    reasons_rows,
)


def _limit(value: float | None) -> str:
    """A declared bound as written: 3.5, 85, 10,000,000."""
    number = float(value or 0)
    return f"{number:,.0f}" if number.is_integer() else f"{number:g}"


def _table(header: list[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _features_section(features: tuple[Feature, ...], reads: tuple[str, ...]) -> str:
    rows = []
    for f in features:
        if f.categories:
            valid = ", ".join(f.categories)
        elif f.minimum is not None:
            valid = f"{_limit(f.minimum)} to {_limit(f.maximum)}"
        else:
            valid = "true / false"
        risk = "-" if f.risk is None else _direction(f)
        read = "yes" if f.name in reads else "no"
        rows.append([f.name, f.type, f.unit or "-", valid, f.role or "-", risk, read])
    header = ["name", "type", "unit", "valid", "role", "worse when", "read by this model"]
    return "## Features\n\n" + _table(header, rows)


def _direction(feature: Feature) -> str:
    risk = feature.risk
    assert risk is not None
    if risk.worse == "later":
        text = " < ".join(risk.order or feature.categories or ())
    else:
        text = f"{risk.worse}"
    if risk.where is not None:
        text += f" (where {risk.where[0].upper()} >= {risk.where[1]:g})"
    return text


def _audit_section(metadata: ModelMetadata) -> str:
    found = metadata.metrics.get("audit")
    if not found:
        return ""
    table = _table(
        ["factor", "pairs", "mean effect, best to worst", "worst reversal", "verdict"],
        audit_rows(found),
    )
    return (
        "## Behaviour audit\n\nEach base applicant moved across one factor's declared range, "
        "best to worst, through both ends and random values between (money: up its range on a "
        "log scale). A reversal is a worse value lowering P(non-standard) or P(decline) by more "
        f"than {audit.PROBABILITY_TOLERANCE:g}, or raising coverage by more than "
        f"${audit.COVERAGE_TOLERANCE:g}; for money, coverage falling with income or net worth, "
        "rising with cover in force, or the risk class moving at all. The networks are monotone "
        "by construction, so every reversal is 0 up to float rounding; a version with any is "
        "not published. The mean effect says each factor matters: how much its worst value "
        "raises P(non-standard) (or lowers coverage) over its best, on average.\n\n"
        f"{audit_summary(found)}.\n\n{table}"
    )


def _path(explained: Explanation) -> str:
    """How the explain signature integrates its path, in words."""
    if explained.integration == SEGMENTS:
        return (
            f"{explained.steps} segments, each one's exact change split by the gradient inside it"
        )
    return f"{explained.steps} midpoint steps"


def _reasons_section(metadata: ModelMetadata) -> str:
    explained = metadata.explain
    if explained is None:
        return ""
    checks = explained.checks
    directed = {f.name: (f, f.risk) for f in metadata.features if f.risk is not None}
    references = [
        [name, _reference(directed[name][0]), directed[name][1].reason]
        for name in explained.features
    ]
    parity = checks.get("parity", {})
    return (
        "## Reasons\n\nBoth exports carry an `explain` signature: for each record, how much each "
        "directed factor raised P(non-standard) and P(decline) above the same applicant at the "
        "best-risk reference below (Integrated Gradients along "
        f"{_path(explained)}, computed inside the model). An adverse decision's reasons are "
        "its largest positive attributions; a factor no worse than its reference is never one. "
        f"Attributions must add up to the difference within {explained.relative_tolerance:.0%} "
        f"(+{explained.absolute_tolerance:g}); records that miss are explained again with four "
        f"times as many. Judged on {judged(metadata.metrics)[0]} applicants the model does not "
        "rate standard:\n\n"
        + _table(["check", "measured", "verdict"], reasons_rows(checks))
        + f"\n\nRetried with more: {checks.get('retried_share', 0):.2%}. The hand-written "
        f"gradient differs from TensorFlow's by at most {checks['gradient_max_difference']:.1e}; "
        f"the LiteRT export's attributions from the SavedModel's by at most "
        f"{parity.get('max_abs_difference', {}).get('attributions', float('nan')):.1e} on "
        f"{parity.get('probe_records', 0):,} probe records.\n\n"
        + _table(["factor", "reference (best risk)", "reason wording"], references)
    )


def _policy_section(metadata: ModelMetadata) -> str:
    mix = metadata.metrics.get("policy")
    if not mix:
        return ""
    outcomes, size = mix["outcomes"], mix["records"]
    rows = [[o, f"{outcomes[o]:,}", f"{outcomes[o] / size:.1%}"] for o in outcomes]
    fired = ", ".join(f"{k} {v:,}" for k, v in sorted(mix["rules_fired"].items())) or "none"
    return (
        f"## Decision policy\n\nThe shipped policy (`policy/{mix['source']}`) applied to the "
        f"{size:,} test-split applicants, offers from the max_coverage model of the same run "
        f"(no requested amounts): straight-through rate "
        f"{mix['straight_through_rate']:.1%} (decided without an underwriter), acceptance rate "
        f"{mix['acceptance_rate']:.1%}.\n\n"
        + _table(["outcome", "applicants", "share"], rows)
        + f"\n\nApplicants on whom each rule fired: {fired}."
    )


def _reference(feature: Feature) -> str:
    risk = feature.risk
    assert risk is not None
    if feature.type == "category":
        return (risk.order or feature.categories or ("",))[0]
    if feature.type == "boolean":
        return "false"
    if risk.where is not None:
        if risk.worse == "lower":
            return "the applicant's own"
        return f"{risk.where[0].upper()} {risk.where[1]:g}"
    best = risk.reference
    if best is None:
        best = feature.minimum if risk.worse == "higher" else feature.maximum
    return f"{_limit(best)} {feature.unit}".strip()


def _classifier_details(metrics: dict[str, Any], class_names: tuple[str, ...]) -> str:
    matrix_rows = [
        [name, *map(str, counts)]
        for name, counts in zip(class_names, metrics["confusion_matrix"], strict=True)
    ]
    return "\n\n".join(
        [
            f"Macro F1: {metrics['macro_f1']:.4f}. Expected calibration error (ECE, 10 bins): "
            f"{metrics['ece']:.4f}.",
            "### Confusion matrix (rows: true class, columns: predicted)\n\n"
            + _table(["true \\ predicted", *class_names], matrix_rows),
            "![confusion matrix](confusion_matrix.png)\n\n![reliability diagram](reliability.png)",
        ]
    )


def _regressor_details(metrics: dict[str, Any]) -> str:
    return (
        f"MAE: ${metrics['mae']:,.0f}. R²: {metrics['r2']:.4f}.\n\n"
        "The network predicts coverage / $1,000,000 with a squared-error loss, so it estimates "
        "the expected coverage over the class uncertainty; the signature multiplies back to "
        "dollars.\n\n![predicted vs actual](predicted_vs_actual.png)"
    )


def _gate_section(metadata: ModelMetadata) -> str:
    """Whether the pair met the publication gate, and what it missed."""
    gate = metadata.training.get("gate")
    if not isinstance(gate, dict):
        return ""
    if gate["passed"]:
        return "## Publication gate\n\nPassed: every target above was met by both models."
    verdict = (
        "Published anyway (`--publish-anyway`)"
        if gate["published_anyway"]
        else "Not published: set aside, never served"
    )
    missed = "\n".join(f"- {failure}" for failure in gate["failures"])
    return f"## Publication gate\n\nFAILED. {verdict}. Missed:\n\n{missed}"


def model_report(metadata: ModelMetadata, rules_markdown: str | None) -> str:
    """The report.md of one published version."""
    metrics = metadata.metrics["test"]
    training = metadata.training
    rows = comparison_rows(metadata.task, metrics)
    fresh = metadata.metrics.get("fresh")
    if metadata.task == "classification":
        details = _classifier_details(metrics, metadata.class_names or ())
    else:
        details = _regressor_details(metrics)
    sections = [
        f"# {metadata.name} — version {metadata.version}",
        metadata.description,
        f"Created {metadata.created_at}. Data: {training['data']['source']} "
        f"({training['data']['fingerprint']}), seed {training['seed']}; rows train / validation / "
        f"test: {training['rows']['train']} / {training['rows']['validation']} / "
        f"{training['rows']['test']}. Epochs run: {training['epochs_run']} of at most "
        f"{training['max_epochs']} (early stopping on validation loss).",
        "## Test-split evaluation\n\n"
        + _table(["metric", "model", "Bayes optimum", "gradient boosting", "target"], rows)
        + "\n\nBayes optimum: the generator's true probabilities / expected coverage on the same "
        "rows (absent for real data). Gradient boosting: scikit-learn's HistGradientBoosting "
        "trained on the same encoded rows.",
        _fresh_section(metadata.task, fresh),
        _gate_section(metadata),
        details,
        _audit_section(metadata),
        _reasons_section(metadata),
        _policy_section(metadata),
        "\n".join(fairness_markdown(metadata.metrics.get("fairness"))).strip(),
        "## Training curves\n\n![training curves](training_curves.png)",
        "## Model\n\n" + metadata.architecture,
        _features_section(metadata.features, metadata.reads()),
    ]
    if rules_markdown:
        sections.append(rules_markdown)
    return "\n\n".join(section for section in sections if section) + "\n"


def _fresh_section(task: str, fresh: dict[str, Any] | None) -> str:
    if not fresh:
        return ""
    rows = comparison_rows(task, fresh)
    return (
        "## Fresh-seed evaluation (the targets)\n\n"
        + _table(["metric", "model", "Bayes optimum", "gradient boosting", "target"], rows)
        + f"\n\n{fresh['rows']:,} applicants generated with a seed no training run uses."
    )


def console_summary(results: list[ModelMetadata], seconds: float) -> str:
    """The short table printed at the end of a training run: every target's verdict."""
    header = ["model", "metric", "model", "Bayes", "baseline", "target"]
    rows = [
        [f"{metadata.name} ({judged(metadata.metrics)[0]})", *row]
        for metadata in results
        for row in comparison_rows(metadata.task, judged(metadata.metrics)[1])
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    for metadata in results:
        if "audit" in metadata.metrics:
            lines.append(f"{metadata.name} behaviour: {audit_summary(metadata.metrics['audit'])}")
        if mix := metadata.metrics.get("policy"):
            lines.append(
                f"{metadata.name} under the shipped policy: straight-through "
                f"{mix['straight_through_rate']:.1%}, accepted {mix['acceptance_rate']:.1%}"
            )
        if metadata.explain is not None:
            for check, measured, verdict in reasons_rows(metadata.explain.checks):
                lines.append(f"{metadata.name} reasons {check}: {measured} ({verdict})")
    verdict = "met" if seconds <= TRAINING_SECONDS else "MISSED"
    lines.append(f"training time: {seconds:.1f} s ({verdict}: target {TRAINING_SECONDS:.0f} s)")
    return "\n".join(lines)
