"""report.md (the model card) and the console summary table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contract.features import Feature
from contract.metadata import ModelMetadata

# Targets from the training issue: (metric, model/Bayes ratio limit, must beat baseline).
CLASSIFIER_LOG_LOSS_RATIO = 1.03
ACCURACY_GAP_POINTS = 1.0
REGRESSOR_RMSE_RATIO = 1.05
TRAINING_SECONDS_TARGET = 180.0


def _number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, (int, float)):
        return f"{value:,.0f}"
    return str(value)


def _limit(value: float | None) -> str:
    """A declared bound as written: 3.5, 85, 10,000,000."""
    number = float(value or 0)
    return f"{number:,.0f}" if number.is_integer() else f"{number:g}"


def comparison_rows(task: str, metrics: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(metric, model, Bayes, baseline, target verdict) rows for tables and the console."""
    if task == "classification":
        names = [
            ("log_loss", "bayes_log_loss", "baseline_log_loss"),
            ("accuracy", "bayes_accuracy", "baseline_accuracy"),
        ]
    else:
        names = [("rmse", "bayes_rmse", "baseline_rmse")]
    rows = []
    for metric, bayes, baseline in names:
        rows.append(
            (
                metric,
                _number(metrics[metric]),
                _number(metrics[bayes]) if bayes in metrics else "n/a",
                _number(metrics[baseline]),
                target_verdict(metric, metrics),
            )
        )
    return rows


def target_verdict(metric: str, metrics: dict[str, Any]) -> str:
    """Say whether a metric meets its target, and by what margin."""
    if metric == "accuracy":
        if "bayes_accuracy" not in metrics:
            return "n/a"
        gap = 100 * (metrics["bayes_accuracy"] - metrics["accuracy"])
        return f"{'met' if gap <= ACCURACY_GAP_POINTS else 'MISSED'} ({gap:+.2f} pt below Bayes)"
    limit = CLASSIFIER_LOG_LOSS_RATIO if metric == "log_loss" else REGRESSOR_RMSE_RATIO
    value = metrics[metric]
    beats_baseline = value <= metrics[f"baseline_{metric}"]
    parts = [f"{'beats' if beats_baseline else 'WORSE THAN'} baseline"]
    ok = beats_baseline
    if f"bayes_{metric}" in metrics:
        ratio = value / metrics[f"bayes_{metric}"]
        ok = ok and ratio <= limit
        parts.insert(0, f"{ratio:.3f}x Bayes (limit {limit})")
    return f"{'met' if ok else 'MISSED'}: {', '.join(parts)}"


def _table(header: list[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _features_section(features: tuple[Feature, ...]) -> str:
    rows = []
    for f in features:
        if f.categories:
            valid = ", ".join(f.categories)
        elif f.minimum is not None:
            valid = f"{_limit(f.minimum)} to {_limit(f.maximum)}"
        else:
            valid = "true / false"
        rows.append([f.name, f.type, f.unit or "-", valid, f.description])
    return "## Features\n\n" + _table(["name", "type", "unit", "valid", "description"], rows)


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
        "The network predicts coverage / $1,000,000 with a linear output and a squared-error loss, "
        "so it estimates the expected coverage; the signature multiplies back to dollars and "
        "floors at zero.\n\n![predicted vs actual](predicted_vs_actual.png)"
    )


def model_report(metadata: ModelMetadata, rules_markdown: str | None) -> str:
    """The report.md of one published version."""
    metrics = metadata.metrics["test"]
    training = metadata.training
    rows = comparison_rows(metadata.task, metrics)
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
        details,
        "## Training curves\n\n![training curves](training_curves.png)",
        "## Model\n\n" + metadata.architecture,
        _features_section(metadata.features),
    ]
    if rules_markdown:
        sections.append(rules_markdown)
    return "\n\n".join(sections) + "\n"


def console_summary(results: list[ModelMetadata], seconds: float) -> str:
    """The short table printed at the end of a training run."""
    header = ["model", "metric", "model", "Bayes", "baseline", "target"]
    rows = [
        [metadata.name, *row]
        for metadata in results
        for row in comparison_rows(metadata.task, metadata.metrics["test"])
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    verdict = "met" if seconds <= TRAINING_SECONDS_TARGET else "MISSED"
    lines.append(
        f"training time: {seconds:.1f} s ({verdict}: target {TRAINING_SECONDS_TARGET:.0f} s)"
    )
    return "\n".join(lines)
