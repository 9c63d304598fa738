"""Score a packed batch with a servable: declared outputs, derived outputs, their metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from service.inference.packing import Batch
from service.inference.servable import Servable, ServedOutput
from service.observability import metrics

# The outputs the class-mix counter and the coverage histogram observe (a metrics contract).
CLASS_OUTPUT = "risk_class"
COVERAGE_OUTPUT = "max_coverage"


@dataclass(frozen=True)
class Prediction:
    """The outputs for a batch of N records, as arrays named as the servable declares them."""

    size: int
    versions: dict[str, int]
    outputs: dict[str, np.ndarray]  # in the servable's output order


def predict(servable: Servable, batch: Batch) -> Prediction:
    """Score the whole batch in one call, whatever the number of models behind the servable."""
    start = time.perf_counter()
    raw = servable.runner(batch)
    elapsed = time.perf_counter() - start
    for model in servable.models:
        # A composite's models share one call: each is charged its duration.
        metrics.MODEL_INFERENCE_DURATION.labels(model.name, str(model.version)).observe(elapsed)
        metrics.PREDICTIONS.labels(model.name, str(model.version)).inc(batch.size)
    outputs = {}
    for output in servable.outputs:
        if output.source is None:
            outputs[output.name] = raw[output.name]
        else:
            outputs[output.name] = _argmax(output, raw[output.source])
    if COVERAGE_OUTPUT in outputs:
        metrics.observe_many(metrics.MAX_COVERAGE, outputs[COVERAGE_OUTPUT])
    return Prediction(batch.size, servable.versions, outputs)


def _argmax(output: ServedOutput, source: np.ndarray) -> np.ndarray:
    """Return the label of the largest entry per record; count the class mix of risk_class."""
    index = source.argmax(axis=1)
    if output.name == CLASS_OUTPUT:
        counts = np.bincount(index, minlength=len(output.labels)).tolist()
        version = str(output.model.version)
        for label, count in zip(output.labels.tolist(), counts, strict=True):
            if count:
                metrics.RISK_CLASS_PREDICTIONS.labels(version, label).inc(count)
    return output.labels[index]
