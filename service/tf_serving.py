"""TensorFlow Serving REST API (/v1): a thin adapter over the prediction core.

Row format `{"instances": [record, ...]}` -> `{"predictions": [...]}`; columnar format
`{"inputs": {feature: [values]}}` -> `{"outputs": {...}}`. Both also name the model versions used.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from service import access_log, metrics
from service.batch import Batch
from service.errors import NotFound
from service.http_metrics import route_label
from service.json_io import json_response
from service.model_store import ModelStore, VersionStatus
from service.prediction import Prediction, predict
from service.request_body import read_json
from service.schemas import SIGNATURE_NAME
from service.servable import Servable
from service.settings import Settings
from service.validation import parse_envelope


def create_blueprint(store: ModelStore, settings: Settings) -> Blueprint:
    """Return the /v1/models routes bound to one store and settings."""
    bp = Blueprint("tf_serving", __name__, url_prefix="/v1/models")

    @bp.post("/<model:name>:predict")
    @bp.post("/<model:name>/versions/<int:version>:predict")
    def predict_route(name: str, version: int | None = None) -> Response:
        """Validate the whole request, then score it in one call."""
        servable = store.get(name, version)
        envelope = parse_envelope(read_json(request))
        validator = servable.validator
        if "instances" in envelope:
            rows = validator.rows_valid(envelope["instances"], settings.max_records)
            batch = Batch.from_rows(rows, servable.layout)
        else:
            columns = validator.columns_valid(envelope["inputs"], settings.max_records)
            batch = Batch.from_columns(columns, servable.layout)
        metrics.REQUEST_RECORDS.labels(route_label()).observe(batch.size)
        prediction = predict(servable, batch)
        access_log.note_prediction(prediction.size, prediction.versions)
        shape = rows_body if "instances" in envelope else columns_body
        return json_response(shape(prediction))

    @bp.get("/<model:name>")
    @bp.get("/<model:name>/versions/<int:version>")
    def status(name: str, version: int | None = None) -> Response:
        """Report version states in GetModelStatus's shape."""
        return json_response({"model_version_status": _statuses(store, name, version)})

    @bp.get("/<model:name>/metadata")
    @bp.get("/<model:name>/versions/<int:version>/metadata")
    def metadata(name: str, version: int | None = None) -> Response:
        """Describe the served versions: features exactly as in metadata.json, outputs, metrics."""
        return json_response(metadata_body(store.get(name, version)))

    return bp


def _versions(prediction: Prediction) -> dict[str, str]:
    return {name: str(v) for name, v in prediction.versions.items()}


def rows_body(prediction: Prediction) -> dict[str, Any]:
    """Shape one prediction object per record."""
    records: list[dict[str, Any]] = [{} for _ in range(prediction.size)]
    if prediction.probabilities is not None and prediction.risk_class is not None:
        names = prediction.class_names
        classes = prediction.risk_class.tolist()
        rows = prediction.probabilities.tolist()
        for record, risk_class, row in zip(records, classes, rows, strict=True):
            record["risk_class"] = risk_class
            record["probabilities"] = dict(zip(names, row, strict=True))
    if prediction.max_coverage is not None:
        for record, coverage in zip(records, prediction.max_coverage.tolist(), strict=True):
            record["max_coverage"] = coverage
    return {"predictions": records, "model_versions": _versions(prediction)}


def columns_body(prediction: Prediction) -> dict[str, Any]:
    """Shape one array per output; probabilities are [N, classes] in `class_names` order."""
    outputs: dict[str, Any] = {}
    if prediction.probabilities is not None and prediction.risk_class is not None:
        outputs["risk_class"] = prediction.risk_class.tolist()
        outputs["probabilities"] = prediction.probabilities.tolist()
    if prediction.max_coverage is not None:
        outputs["max_coverage"] = prediction.max_coverage.tolist()
    return {"outputs": outputs, "model_versions": _versions(prediction)}


def _status_entry(status: VersionStatus) -> dict[str, Any]:
    code = "UNKNOWN" if status.error else "OK"
    return {
        "version": str(status.version),
        "state": status.state,
        "status": {"error_code": code, "error_message": status.error},
    }


def _statuses(store: ModelStore, name: str, version: int | None) -> list[dict[str, Any]]:
    """List version states; for a composite, each component's, marked with its model."""
    if name not in store.servable_names():
        raise NotFound(f"Unknown model {name!r}", {"models": store.servable_names()})
    entries = []
    for component in store.composites.get(name, (name,)):
        marker = {"model": component} if component != name else {}
        for status in store.statuses(component):
            if version is None or status.version == version:
                entries.append(_status_entry(status) | marker)
    if not entries:
        raise NotFound(f"No version {version} of {name!r} is known", {"model": name})
    return entries


def metadata_body(target: Servable) -> dict[str, Any]:
    """Describe a servable from its artifacts' metadata.json."""
    first = target.models[0].artifact.metadata
    described: dict[str, Any] = {
        "features": first["features"],
        "prohibited_fields": first.get("prohibited_fields", {}),
        "outputs": [o for m in target.models for o in m.artifact.metadata.get("outputs", [])],
        "versions": {m.name: str(m.version) for m in target.models},
        "metrics": {m.name: m.artifact.metadata.get("metrics", {}) for m in target.models},
        "models": {m.name: _describe(m.artifact.metadata) for m in target.models},
    }
    for m in target.models:
        if "class_names" in m.artifact.metadata:
            described["class_names"] = m.artifact.metadata["class_names"]
    version = "" if target.version is None else str(target.version)
    spec = {"name": target.name, "signature_name": SIGNATURE_NAME, "version": version}
    return {"model_spec": spec, "metadata": described}


def _describe(metadata: dict[str, Any]) -> dict[str, Any]:
    """Pick the per-model facts a client may want besides features and metrics."""
    keys = ("task", "created_at", "target", "class_names", "training", "library_versions")
    return {k: metadata[k] for k in keys if k in metadata}
