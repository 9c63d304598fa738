"""TensorFlow Serving REST API (/v1): decode the envelope, call the dataplane, encode the outputs.

Row format `{"instances": [record, ...]}` -> `{"predictions": [...]}`; columnar format
`{"inputs": {feature: [values]}}` -> `{"outputs": {...}}`. Both also name the model versions used
and the request's id (its `X-Request-ID`: the key its decisions are recorded and found by).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from flask import Blueprint, Response, request

from contract.metadata import SIGNATURE_NAME, ModelMetadata
from service.dataplane import Columns, Dataplane, Explained, Rows
from service.errors import NotFound
from service.http import caller
from service.http.caller import replay_marked
from service.http.json_io import json_response
from service.http.request_body import parse_json, read_body, refuse_excess_keys
from service.inference.prediction import DECISION_OUTPUT, Prediction
from service.inference.servable import Servable
from service.observability import request_hooks
from service.protocols.tf_serving_envelope import FastEnvelope, parse_envelope
from service.repository.store import VersionStatus
from service.validation.records import ValidRecords
from service.validation.typed import TypedRecords
from service.validation.validator import key_limit


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the /v1/models routes bound to one dataplane."""
    bp = Blueprint("tf_serving", __name__, url_prefix="/v1/models")

    @bp.post("/<model:name>:predict")
    @bp.post("/<model:name>/versions/<int:version>:predict")
    def predict_route(name: str, version: int | None = None) -> Response:
        """Validate the whole request, then score it in one call."""
        servable = dataplane.servable(name, version)
        records, explain = _records(servable, dataplane.max_records, read_body(request))
        sender = caller.current()
        prediction = dataplane.infer(servable, records, sender, explain)
        request_hooks.record_scored(prediction.size, prediction.versions)
        body = rows_body if _in_rows(records) else columns_body
        answer = body(servable, prediction, sender.request_id)
        return replay_marked(json_response(answer), prediction.replayed)

    @bp.post("/<model:name>:explain")
    @bp.post("/<model:name>/versions/<int:version>:explain")
    def explain_route(name: str, version: int | None = None) -> Response:
        """Attributions of every directed feature for every record (KServe V1 `:explain`)."""
        servable = dataplane.servable(name, version, explaining=True)
        records, _ = _records(servable, dataplane.max_records, read_body(request))
        explanations = explanations_body(dataplane.explain(servable, records))
        versions = {n: str(v) for n, v in servable.versions.items()}
        return json_response(
            {
                "explanations": explanations,
                "model_versions": versions,
                "request_id": caller.current().request_id,
            }
        )

    @bp.get("/<model:name>")
    @bp.get("/<model:name>/versions/<int:version>")
    def status(name: str, version: int | None = None) -> Response:
        """Report version states in GetModelStatus's shape."""
        return json_response({"model_version_status": _statuses(dataplane, name, version)})

    @bp.get("/<model:name>/metadata")
    @bp.get("/<model:name>/versions/<int:version>/metadata")
    def metadata(name: str, version: int | None = None) -> Response:
        """Describe the served versions: features exactly as in metadata.json, outputs, metrics."""
        return json_response(metadata_body(dataplane.servable(name, version)))

    return bp


def _records(
    servable: Servable, max_records: int, body: bytes
) -> tuple[Rows | Columns | ValidRecords, bool]:
    """The request's records and whether it wants reasons: the typed route, else the strict."""
    decoded = _typed(servable, max_records).decode(body)
    if decoded is not None:
        return decoded
    # Invalid, or outside the typed route: parsed whole, once it cannot be absurdly large.
    refuse_excess_keys(body, key_limit(len(servable.request_fields), max_records))
    envelope = parse_envelope(parse_json(body))
    rows = Rows(envelope["instances"]) if "instances" in envelope else None
    return rows or Columns(envelope["inputs"]), envelope.get("explain", True)


def _in_rows(records: Rows | Columns | ValidRecords) -> bool:
    """Whether the request sent rows ("instances"): the response answers in the same format."""
    return isinstance(records, Rows) or (
        isinstance(records, ValidRecords) and records.rows is not None
    )


class _Strict:
    """Stands in for the typed decoder where a declaration cannot be compiled: always declines."""

    def decode(self, body: bytes) -> tuple[ValidRecords, bool] | None:
        return None


def _typed(servable: Servable, max_records: int) -> FastEnvelope | _Strict:
    """The typed decoder of a servable's declaration, compiled once per declaration."""
    return _decoder(servable.validator.typed, max_records)


@lru_cache(maxsize=32)  # one per loaded declaration; old versions' age out
def _decoder(typed: TypedRecords | None, max_records: int) -> FastEnvelope | _Strict:
    return _Strict() if typed is None else FastEnvelope(typed, max_records)


def _versions(prediction: Prediction) -> dict[str, str]:
    return {name: str(v) for name, v in prediction.versions.items()}


def rows_body(servable: Servable, prediction: Prediction, request_id: str) -> dict[str, Any]:
    """Shape one prediction object per record; a labelled output becomes {label: value}."""
    records: list[dict[str, Any]] = [{} for _ in range(prediction.size)]
    for output in servable.answer_first:
        values = prediction.outputs[output.name].tolist()
        labels = output.spec.labels
        if labels is not None:
            values = [dict(zip(labels, row, strict=True)) for row in values]
        for record, value in zip(records, values, strict=True):
            record[output.name] = value
    if prediction.decisions is not None:
        for record, decision in zip(records, prediction.decisions, strict=True):
            record[DECISION_OUTPUT] = decision
    return {
        "predictions": records,
        "model_versions": _versions(prediction),
        "request_id": request_id,
    }


def columns_body(servable: Servable, prediction: Prediction, request_id: str) -> dict[str, Any]:
    """Shape one array per output; a [N, k] output is k values per record, in its label order."""
    outputs = {o.name: prediction.outputs[o.name].tolist() for o in servable.answer_first}
    if prediction.decisions is not None:
        outputs[DECISION_OUTPUT] = prediction.decisions
    return {"outputs": outputs, "model_versions": _versions(prediction), "request_id": request_id}


def explanations_body(explained: Explained) -> list[dict[str, Any]]:
    """Per record: each target's difference and attributions (six decimals), completeness."""
    declared, found = explained.declared, explained.found
    body = []
    for i in range(len(found.complete)):
        targets = {
            target: {
                "difference": round(float(found.difference[i, j]), 6),
                "attributions": dict(
                    zip(
                        declared.features,
                        np.round(found.by_target[target][i].astype(np.float64), 6).tolist(),
                        strict=True,
                    )
                ),
            }
            for j, target in enumerate(declared.targets)
        }
        body.append(
            {"targets": targets, "complete": bool(found.complete[i]), "steps": int(found.steps[i])}
        )
    return body


def _status_entry(status: VersionStatus) -> dict[str, Any]:
    code = "UNKNOWN" if status.error else "OK"
    return {
        "version": str(status.version),
        "state": status.state,
        "status": {"error_code": code, "error_message": status.error},
    }


def _statuses(dataplane: Dataplane, name: str, version: int | None) -> list[dict[str, Any]]:
    """List version states; for a composite, each component's, marked with its model."""
    entries = [
        _status_entry(status) | ({"model": component} if component != name else {})
        for component, status in dataplane.statuses(name, version)
    ]
    if not entries:
        raise NotFound(f"No version {version} of {name!r} is known", {"model": name})
    return entries


def metadata_body(target: Servable) -> dict[str, Any]:
    """Describe a servable from its artifacts' metadata."""
    models = [m.metadata for m in target.models]
    optional = target.request_fields[len(target.features) :]
    described: dict[str, Any] = {
        "features": [f.to_json() for f in models[0].features],
        # What a record may carry besides the features, read by a decision policy (the amount
        # applied for): V2's metadata lists the same as inputs marked optional.
        "optional_fields": [f.to_json() | {"optional": True} for f in optional],
        "prohibited_fields": models[0].prohibited.to_json(),
        "outputs": [o.to_json() for m in models for o in m.outputs],
        # As each prediction's model_versions: the decision policy's too, where one decides.
        "versions": {name: str(version) for name, version in target.versions.items()},
        "metrics": {m.name: dict(m.metrics) for m in models},
        "models": {m.name: _describe(m) for m in models},
    }
    for m in models:
        if m.class_names is not None:
            described["class_names"] = list(m.class_names)
    version = "" if target.version is None else str(target.version)
    spec = {"name": target.name, "signature_name": SIGNATURE_NAME, "version": version}
    return {"model_spec": spec, "metadata": described}


def _describe(metadata: ModelMetadata) -> dict[str, Any]:
    """Pick the per-model facts a client may want besides features and metrics."""
    described: dict[str, Any] = {"task": metadata.task, "created_at": metadata.created_at}
    # Which declared features the model reads: the risk class reads no financial feature.
    described["reads"] = list(metadata.reads())
    if metadata.target is not None:
        described["target"] = dict(metadata.target)
    if metadata.class_names is not None:
        described["class_names"] = list(metadata.class_names)
    described["training"] = dict(metadata.training)
    described["library_versions"] = dict(metadata.library_versions)
    return described
