"""The scoring core: validated records in; outputs, decisions and reasons out.

One path from validated records to decisions, under the service's dataplane (which adds what
belongs to a request: ids, the decision record, drift, the shadow) and under both batch engines
(which add files and Spark). Whatever the model or the policy gains (an output, a rule, a kind
of evidence) is added here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.decisions.deciding import DecidedBatch, decide_scored
from service.inference.packing import Batch, pack
from service.inference.prediction import Prediction, predict
from service.inference.servable import Servable
from service.validation.records import ValidRecords


@dataclass(frozen=True)
class Assessment:
    """A batch of validated records, scored and (for a servable with a policy) decided."""

    records: ValidRecords
    batch: Batch  # the records packed for the runtime (the drift windows and the shadow read it)
    prediction: Prediction  # the declared and derived outputs, as arrays
    decided: DecidedBatch | None  # decisions as arrays, reasons of the adverse records only


def assess(
    servable: Servable, records: ValidRecords, explain: bool = True, observed: bool = True
) -> Assessment:
    """Score the records in one model call and decide them under the servable's policy.

    `explain=False` skips the model's attributions (bulk scoring: knock-out reasons only,
    `reasons_complete` unknown); `observed=False` (a batch job, a shadow) leaves the prediction
    metrics to what clients were answered with.
    """
    batch = pack(servable.packer, records)
    prediction = predict(servable, batch, observed)
    decided = None
    if servable.policy is not None:
        decided = decide_scored(servable, batch, prediction, records, explain)
    return Assessment(records, batch, prediction, decided)
