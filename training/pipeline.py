"""The training run: data -> split -> preprocessing -> networks -> evaluation -> artifacts."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import sklearn
import tensorflow as tf

from training import baselines, evaluation, networks, plots, publish, report
from training.csv_data import load_csv
from training.dataset import Dataset, split
from training.export import SAVED_MODEL_DIR, SIGNATURE_NAME, export_saved_model
from training.features import CLASS_NAMES, IDENTIFIERS, PROTECTED_ATTRIBUTES, declaration
from training.options import TrainingOptions
from training.preprocessing import TENSOR_DTYPES, Preprocessor
from training.synthetic import RULES_MARKDOWN, generate

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Split:
    """One split's rows and their encoded network input."""

    rows: Dataset
    x: np.ndarray


def load_dataset(options: TrainingOptions) -> Dataset:
    """The user's CSV if given, else the seeded synthetic generator."""
    if options.data is not None:
        return load_csv(options.data)
    sample = generate(options.rows, options.seed)
    return Dataset(
        features=sample.features,
        risk_class=sample.risk_class,
        max_coverage=sample.max_coverage,
        source="synthetic",
        true_probabilities=sample.true_probabilities,
        expected_coverage=sample.expected_coverage,
    )


def _common_metadata(
    name: str, task: str, data: Dataset, splits: dict[str, Split], options: TrainingOptions
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": None,  # set at publication
        "task": task,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "features": declaration(),
        "prohibited_fields": {
            "protected": list(PROTECTED_ATTRIBUTES),
            "identifiers": list(IDENTIFIERS),
        },
        "signature": {
            "path": SAVED_MODEL_DIR,
            "name": SIGNATURE_NAME,
            "inputs": {f["name"]: TENSOR_DTYPES[f["type"]].name for f in declaration()},
        },
        "training": {
            "seed": options.seed,
            "rows": {key: len(s.rows) for key, s in splits.items()},
            "data": {"source": data.source, "fingerprint": data.fingerprint()},
        },
        "library_versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }


CLASSIFIER_STRUCTURE = (
    "Dense({units}, ReLU) hidden layers -> softmax over the 3 risk classes; sparse categorical "
    "cross-entropy"
)
REGRESSOR_STRUCTURE = (
    "coverage / $1M = sum_j a_j(context) * phi_j(income) + b(context), linear output, squared "
    "error. context: Dense({units}, ReLU) layers on every encoded column except the three income "
    "columns (income, log income, financial capacity); a_j >= 0 (softplus); phi_j: two blocks of "
    "non-negative-weight Dense units with ReLU and min(x, 0) activations, so predicted coverage "
    "never falls as income rises (guaranteed by construction)"
)


def _architecture(model: keras.Model, structure: str, batch: int, p: Preprocessor) -> str:
    """Describe the network and preprocessing for the report and metadata."""
    units = ", ".join(
        str(layer.units)
        for layer in model.layers
        if getattr(layer, "activation", None) is keras.activations.relu
    )
    return (
        f"Keras {keras.__version__}, {model.count_params():,} parameters: "
        f"{structure.format(units=units)}. Adam (lr 1e-3, reduced on plateau), batch {batch}, "
        f"early stopping on validation loss (patience {networks.PATIENCE}, best weights "
        f"restored).\n\nPreprocessing, inside the SavedModel signature: derived BMI, total/HDL "
        f"cholesterol ratio and financial capacity (the guidelines' income multiple by age or half "
        f"of net worth, less cover in force, within the retention limit); numeric values and "
        f"signed log1p of money amounts standardised with training-split statistics "
        f"({len(p.means)} columns, in preprocessing.json); booleans as 0/1; categories one-hot."
    )


def _write_version(
    options: TrainingOptions,
    metadata: dict[str, Any],
    fitted: networks.FitResult,
    preprocessor: Preprocessor,
    draw: Callable[[Path], None],
    rules: str | None,
) -> Path:
    """Save model, plots and report into a staging directory and publish it atomically."""
    staging = publish.staging_directory(options.models_dir, metadata["name"])
    try:
        fitted.model.save(staging / "model.keras")
        preprocessor.save(staging)
        export_saved_model(fitted.model, preprocessor, metadata["task"], staging)
        plots.training_curves(fitted.history, staging / "training_curves.png", metadata["name"])
        draw(staging)
        return publish.publish(
            staging,
            metadata,
            lambda directory, meta: (directory / "report.md").write_text(
                report.model_report(meta, rules)
            ),
        )
    except BaseException:
        publish.discard(staging)
        raise


def _publish_model(
    options: TrainingOptions,
    data: Dataset,
    preprocessor: Preprocessor,
    metadata: dict[str, Any],
    fitted: networks.FitResult,
    started: float,
    draw: Callable[[Path], None],
) -> dict[str, Any]:
    """Record how training went, then publish the version with its report."""
    metadata["training"] |= {
        "epochs_run": fitted.epochs_run,
        "max_epochs": options.epochs,
        "duration_seconds": round(time.perf_counter() - started, 1),
    }
    rules = RULES_MARKDOWN if data.has_truth else None
    target = _write_version(options, metadata, fitted, preprocessor, draw, rules)
    print(f"[{metadata['name']}] published {target}", flush=True)
    return metadata


def _train_classifier(
    options: TrainingOptions, data: Dataset, splits: dict[str, Split], preprocessor: Preprocessor
) -> dict[str, Any]:
    """Fit, evaluate against Bayes and gradient boosting, and publish the risk-class model."""
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    started = time.perf_counter()
    print(f"[risk_class] fitting the classifier on {len(train.rows):,} rows", flush=True)
    keras.utils.set_random_seed(options.seed)  # each model reproducible on its own
    model = networks.build_classifier(train.x.shape[1], len(CLASS_NAMES))
    fitted = networks.fit(
        model,
        (train.x, train.rows.risk_class),
        (validation.x, validation.rows.risk_class),
        options.epochs,
        networks.CLASSIFIER_BATCH_SIZE,
    )
    probabilities = np.asarray(fitted.model(test.x, training=False), dtype=np.float64)
    print("[risk_class] fitting the gradient-boosting baseline", flush=True)
    baseline = baselines.baseline_probabilities(
        train.x, train.rows.risk_class, test.x, options.seed, len(CLASS_NAMES)
    )
    metrics = evaluation.classifier_metrics(
        test.rows.risk_class, probabilities, test.rows.true_probabilities, baseline
    )
    metadata = _common_metadata("risk_class", "classification", data, splits, options)
    metadata |= {
        "description": "Probabilities of the underwriting risk classes for one applicant.",
        "outputs": [
            {
                "name": "probabilities",
                "dtype": "float32",
                "shape": [-1, len(CLASS_NAMES)],
                "description": "Class probabilities in class_names order; rows sum to 1.",
            }
        ],
        "class_names": list(CLASS_NAMES),
        "metrics": {"test": metrics},
        "architecture": _architecture(
            fitted.model, CLASSIFIER_STRUCTURE, networks.CLASSIFIER_BATCH_SIZE, preprocessor
        ),
    }

    def draw(directory: Path) -> None:
        plots.confusion_heatmap(metrics["confusion_matrix"], directory / "confusion_matrix.png")  # type: ignore[arg-type]
        plots.reliability_diagram(metrics["calibration"], directory / "reliability.png")  # type: ignore[arg-type]

    return _publish_model(options, data, preprocessor, metadata, fitted, started, draw)


def _train_regressor(
    options: TrainingOptions, data: Dataset, splits: dict[str, Split], preprocessor: Preprocessor
) -> dict[str, Any]:
    """Fit, evaluate against Bayes and gradient boosting, and publish the coverage model."""
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    scale = networks.COVERAGE_SCALE
    started = time.perf_counter()
    print(f"[max_coverage] fitting the regressor on {len(train.rows):,} rows", flush=True)
    keras.utils.set_random_seed(options.seed)
    model = networks.build_regressor(train.x.shape[1], preprocessor.income_indices())
    fitted = networks.fit(
        model,
        (train.x, train.rows.max_coverage / scale),
        (validation.x, validation.rows.max_coverage / scale),
        options.epochs,
        networks.REGRESSOR_BATCH_SIZE,
    )
    scaled = np.asarray(fitted.model(test.x, training=False), dtype=np.float64)[:, 0]
    predicted = np.maximum(scaled * scale, 0.0)  # exactly what the signature returns
    print("[max_coverage] fitting the gradient-boosting baseline", flush=True)
    baseline = baselines.baseline_coverage(train.x, train.rows.max_coverage, test.x, options.seed)
    metrics = evaluation.regressor_metrics(
        test.rows.max_coverage, predicted, test.rows.expected_coverage, baseline
    )
    metadata = _common_metadata("max_coverage", "regression", data, splits, options)
    metadata |= {
        "description": "Maximum life coverage, in dollars, that underwriting would offer.",
        "outputs": [
            {
                "name": "max_coverage",
                "dtype": "float32",
                "shape": [-1],
                "description": "Expected maximum coverage in USD, never negative.",
            }
        ],
        "target": {
            "name": "max_coverage",
            "unit": "USD",
            "transform": f"network output x {scale:,.0f}, floored at 0",
        },
        "metrics": {"test": metrics},
        "architecture": _architecture(
            fitted.model, REGRESSOR_STRUCTURE, networks.REGRESSOR_BATCH_SIZE, preprocessor
        ),
    }

    def draw(directory: Path) -> None:
        plots.predicted_vs_actual(
            test.rows.max_coverage, predicted, directory / "predicted_vs_actual.png"
        )

    return _publish_model(options, data, preprocessor, metadata, fitted, started, draw)


def run(options: TrainingOptions) -> list[tuple[str, dict[str, Any]]]:
    """Train and publish both models; return (name, metadata) for each."""
    started = time.perf_counter()
    data = load_dataset(options)
    print(f"data: {len(data):,} rows from {data.source}", flush=True)
    parts = dict(zip(("train", "validation", "test"), split(data, options.seed), strict=True))
    preprocessor = Preprocessor().fit(parts["train"].features)
    splits = {k: Split(rows, preprocessor.encode_numpy(rows.features)) for k, rows in parts.items()}
    results = [
        ("risk_class", _train_classifier(options, data, splits, preprocessor)),
        ("max_coverage", _train_regressor(options, data, splits, preprocessor)),
    ]
    seconds = time.perf_counter() - started
    print(report.console_summary(results, seconds), flush=True)
    return results
