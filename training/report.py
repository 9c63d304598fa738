"""report.md (the model card) and the console summary table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contract.features import Feature
from contract.metadata import ModelMetadata
from training import audit
from training.targets import (
    TRAINING_SECONDS,
    audit_rows,
    audit_summary,
    comparison_rows,
    judged,
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
    table = _table(["factor", "pairs", "worst reversal", "verdict"], audit_rows(found))
    return (
        "## Behaviour audit\n\nEach base applicant moved across one factor's declared range, "
        "best to worst (money: up its range). A reversal is a worse value lowering P(non-"
        f"standard) or P(decline) by more than {audit.PROBABILITY_TOLERANCE}, or raising coverage "
        f"by more than ${audit.COVERAGE_TOLERANCE:g}; for money, coverage falling with income or "
        "net worth, rising with cover in force, or the risk class moving at all. The networks "
        "are monotone by construction, so every figure is 0 up to float rounding.\n\n"
        f"{audit_summary(found)}.\n\n{table}"
    )


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
        details,
        _audit_section(metadata),
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
    verdict = "met" if seconds <= TRAINING_SECONDS else "MISSED"
    lines.append(f"training time: {seconds:.1f} s ({verdict}: target {TRAINING_SECONDS:.0f} s)")
    return "\n".join(lines)
