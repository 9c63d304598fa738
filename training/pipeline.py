"""The training run: data -> split -> preprocessing -> each model task -> artifacts."""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import sklearn
import tensorflow as tf

from contract.metadata import LiteRTExport, ModelMetadata, Signature
from training import networks, parity, plots, publish, report
from training.csv_data import load_csv
from training.dataset import Dataset, split
from training.export import export_litert, export_saved_model
from training.features import FEATURES, PROHIBITED
from training.options import TrainingOptions
from training.preprocessing import Preprocessor
from training.synthetic import RULES_MARKDOWN, generate
from training.tasks import TASKS, ModelTask, Split


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


def _architecture(task: ModelTask, model: keras.Model, p: Preprocessor) -> str:
    """Describe the network and preprocessing for the report and metadata."""
    units = ", ".join(
        str(layer.units)
        for layer in model.layers
        if getattr(layer, "activation", None) is keras.activations.relu
    )
    return (
        f"Keras {keras.__version__}, {model.count_params():,} parameters: "
        f"{task.structure.format(units=units)}. Adam (lr 1e-3, reduced on plateau), batch "
        f"{task.batch_size}, early stopping on validation loss (patience {networks.PATIENCE}, "
        f"best weights restored).\n\nPreprocessing, inside the SavedModel signature: derived "
        f"BMI, total/HDL cholesterol ratio and financial capacity (the guidelines' income "
        f"multiple by age or half of net worth, less cover in force, within the retention "
        f"limit); numeric values and signed log1p of money amounts standardised with "
        f"training-split statistics ({len(p.means)} columns, in preprocessing.json); booleans "
        f"as 0/1; categories one-hot."
    )


def _metadata(
    task: ModelTask,
    data: Dataset,
    splits: dict[str, Split],
    options: TrainingOptions,
    metrics: dict,
    architecture: str,
    fitted: networks.FitResult,
    seconds: float,
) -> ModelMetadata:
    """Describe one trained model through the contract (its version is given at publication)."""
    declared = task.declaration
    return ModelMetadata(
        name=task.name,
        task=task.task,
        description=task.description,
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        features=FEATURES,
        outputs=declared.outputs,
        signature=Signature.for_features(FEATURES),
        prohibited=PROHIBITED,
        derived_outputs=declared.derived_outputs,
        class_names=declared.class_names,
        target=declared.target,
        metrics={"test": metrics},
        training={
            "seed": options.seed,
            "rows": {key: len(s.rows) for key, s in splits.items()},
            "data": {"source": data.source, "fingerprint": data.fingerprint()},
            "epochs_run": fitted.epochs_run,
            "max_epochs": options.epochs,
            "duration_seconds": round(seconds, 1),
        },
        library_versions={
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        architecture=architecture,
    )


def train_task(
    task: ModelTask,
    options: TrainingOptions,
    data: Dataset,
    splits: dict[str, Split],
    preprocessor: Preprocessor,
) -> ModelMetadata:
    """Fit one network, evaluate it beside Bayes and gradient boosting, and publish it."""
    train, validation, test = splits["train"], splits["validation"], splits["test"]
    started = time.perf_counter()
    print(f"[{task.name}] fitting on {len(train.rows):,} rows", flush=True)
    keras.utils.set_random_seed(options.seed)  # each model reproducible on its own
    fitted = networks.fit(
        task.build(train.x.shape[1], preprocessor),
        (train.x, task.labels(train.rows)),
        (validation.x, task.labels(validation.rows)),
        options.epochs,
        task.batch_size,
    )
    # Evaluate exactly what the signature will serve.
    served = {k: np.asarray(v) for k, v in task.serve(fitted.model(test.x, training=False)).items()}
    declared = [o.name for o in task.declaration.outputs]
    if sorted(served) != sorted(declared):
        raise ValueError(f"{task.name} serves {sorted(served)} but declares {sorted(declared)}")
    print(f"[{task.name}] fitting the gradient-boosting baseline", flush=True)
    metrics = task.metrics(test.rows, served, task.baseline(train, test, options.seed))
    architecture = _architecture(task, fitted.model, preprocessor)
    seconds = time.perf_counter() - started
    metadata = _metadata(task, data, splits, options, metrics, architecture, fitted, seconds)
    staging = publish.staging_directory(options.models_dir, task.name)
    try:
        fitted.model.save(staging / "model.keras")
        preprocessor.save(staging)
        export_saved_model(fitted.model, preprocessor, task.serve, staging)
        export_litert(fitted.model, preprocessor, task.serve, staging)
        checked = parity.check_parity(staging, task.declaration.outputs)
        print(f"[{task.name}] LiteRT export matches the SavedModel: {checked}", flush=True)
        metadata = dataclasses.replace(
            metadata, litert=LiteRTExport.for_features(FEATURES, checked)
        )
        plots.training_curves(fitted.history, staging / "training_curves.png", task.name)
        task.draw(metrics, test.rows, served, staging)
        rules = RULES_MARKDOWN if data.has_truth else None
        target, sealed = publish.publish(staging, metadata, _report_writer(rules))
    except BaseException:
        publish.discard(staging)
        raise
    print(f"[{task.name}] published {target}", flush=True)
    return sealed


def _report_writer(rules: str | None) -> Callable[[Path, ModelMetadata], None]:
    def write(directory: Path, metadata: ModelMetadata) -> None:
        (directory / "report.md").write_text(report.model_report(metadata, rules))

    return write


def run(options: TrainingOptions, data: Dataset | None = None) -> list[ModelMetadata]:
    """Train and publish every model task (on `data` if already loaded); return their metadata."""
    started = time.perf_counter()
    data = data if data is not None else load_dataset(options)
    print(f"data: {len(data):,} rows from {data.source}", flush=True)
    parts = dict(zip(("train", "validation", "test"), split(data, options.seed), strict=True))
    preprocessor = Preprocessor().fit(parts["train"].features)
    splits = {k: Split(rows, preprocessor.encode_numpy(rows.features)) for k, rows in parts.items()}
    results = [train_task(task, options, data, splits, preprocessor) for task in TASKS]
    print(report.console_summary(results, time.perf_counter() - started), flush=True)
    return results
