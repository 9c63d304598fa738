"""The protocol-neutral prediction core: a validated batch in, arrays out.

Protocol adapters (TF Serving REST today, the Open Inference Protocol next) take a servable
from the store, validate with its validator, pack a `Batch` and call `predict`; they only
parse and shape JSON.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from service import metrics
from service.batch import Batch
from service.servable import Servable


@dataclass(frozen=True)
class Prediction:
    """Model outputs for a batch of N records, as arrays."""

    size: int
    versions: dict[str, int]
    class_names: tuple[str, ...] = ()
    probabilities: np.ndarray | None = None  # [N, len(class_names)] float32
    risk_class: np.ndarray | None = None  # [N] class names
    max_coverage: np.ndarray | None = None  # [N] float32 dollars


def predict(servable: Servable, batch: Batch) -> Prediction:
    """Score the whole batch in one call, whatever the number of models behind the servable."""
    start = time.perf_counter()
    outputs = servable.runner(batch)
    elapsed = time.perf_counter() - start
    for model in servable.models:
        # A composite's models share one call: each is charged its duration.
        metrics.MODEL_INFERENCE_DURATION.labels(model.name, str(model.version)).observe(elapsed)
        metrics.PREDICTIONS.labels(model.name, str(model.version)).inc(batch.size)
    probabilities = outputs.get("probabilities")
    coverage = outputs.get("max_coverage")
    risk_class = None
    if probabilities is not None:
        risk_class = _classes(probabilities, servable.class_names, servable.classifier_version)
    if coverage is not None:
        metrics.observe_many(metrics.MAX_COVERAGE, coverage)
    class_names = tuple(servable.class_names.tolist())
    return Prediction(
        batch.size, servable.versions, class_names, probabilities, risk_class, coverage
    )


def _classes(probabilities: np.ndarray, class_names: np.ndarray, version: int | None) -> np.ndarray:
    """Return the most probable class per record and count the class mix."""
    index = probabilities.argmax(axis=1)
    counts = np.bincount(index, minlength=len(class_names)).tolist()
    for class_name, count in zip(class_names.tolist(), counts, strict=True):
        if count:
            metrics.RISK_CLASS_PREDICTIONS.labels(str(version), class_name).inc(count)
    return class_names[index]
