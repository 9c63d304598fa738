"""Score a packed batch with a servable: declared outputs, derived outputs, their metrics."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from service.errors import ModelFailure
from service.inference.packing import Batch
from service.inference.servable import Servable, ServedOutput
from service.observability import metrics

log = logging.getLogger(__name__)
# The outputs the class-mix counter and the coverage histogram observe (a metrics contract).
CLASS_OUTPUT = "risk_class"
COVERAGE_OUTPUT = "max_coverage"
# Each record's decision, an output of a servable with a policy on every wire.
DECISION_OUTPUT = "decision"


@dataclass(frozen=True)
class Prediction:
    """The outputs for a batch of N records, as arrays named as the servable declares them."""

    size: int
    versions: dict[str, int]
    outputs: dict[str, np.ndarray]  # in the servable's output order
    # Per record, for a servable with a policy: each decision's JSON form (`Decision.to_json`),
    # built once; the record stores it and every wire writes it.
    decisions: list[dict[str, Any]] | None = None
    replayed: bool = False  # the decisions are those on record for the same request, sent before


@cache
def _model_children(model: str, version: int) -> tuple[Any, Any]:
    """The inference-duration and predictions children of one model version (cached)."""
    labels = (model, str(version))
    return metrics.MODEL_INFERENCE_DURATION.labels(*labels), metrics.PREDICTIONS.labels(*labels)


@cache
def _class_child(version: int, label: str) -> Any:
    return metrics.RISK_CLASS_PREDICTIONS.labels(str(version), label)


def predict(servable: Servable, batch: Batch, observed: bool = True) -> Prediction:
    """Score the whole batch in one call, whatever the number of models behind the servable.

    `observed=False` (a shadow challenger) leaves the prediction metrics alone: they count what
    clients were answered with.
    """
    start = time.perf_counter()
    raw = servable.runner(batch)
    elapsed = time.perf_counter() - start
    for model in servable.models if observed else ():
        # A composite's models share one call: each is charged its duration.
        duration, predictions = _model_children(model.name, model.version)
        duration.observe(elapsed)
        predictions.inc(batch.size)
    outputs = {}
    for output in servable.outputs:
        if output.source is None:
            outputs[output.name] = _finite(output, raw[output.name])
        else:
            outputs[output.name] = _argmax(output, raw[output.source], observed)
    if COVERAGE_OUTPUT in outputs and observed:
        metrics.observe_many(metrics.MAX_COVERAGE, outputs[COVERAGE_OUTPUT])
    return Prediction(batch.size, servable.versions, outputs)


def _finite(output: ServedOutput, values: np.ndarray) -> np.ndarray:
    """Refuse to answer with NaN or infinity: the warm-up checked the model, not every input."""
    if not np.isfinite(values).all():
        log.error(
            "%s v%s gave a non-finite %r", output.model.name, output.model.version, output.name
        )
        raise ModelFailure(f"Model {output.model.name!r} gave a non-finite {output.name!r}")
    return values


def _argmax(output: ServedOutput, source: np.ndarray, observed: bool) -> np.ndarray:
    """Return the label of the largest entry per record; count the class mix of risk_class."""
    index = source.argmax(axis=1)
    if output.name == CLASS_OUTPUT and observed:
        version = output.model.version
        if len(index) == 1:  # the common request: no counting machinery
            _class_child(version, output.labels[index[0]]).inc()
        else:
            counts = np.bincount(index, minlength=len(output.labels)).tolist()
            for label, count in zip(output.labels.tolist(), counts, strict=True):
                if count:
                    _class_child(version, label).inc(count)
    return output.labels[index]
