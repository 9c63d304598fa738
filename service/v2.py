"""Open Inference Protocol (V2, as KServe, MLServer and Triton speak it): a thin adapter.

Each feature column is one input tensor of shape [N]; the tensors become the same columns the
TF Serving columnar format carries, checked by the same validator and scored by the same core.
Responses are JSON; a request for binary outputs gets JSON, which V2 clients read as well.
"""

from __future__ import annotations

from importlib import metadata as package_metadata
from typing import Any

from flask import Blueprint, Response, request

from service import access_log, metrics
from service.batch import Batch
from service.errors import InvalidInput, NotReady
from service.http_metrics import route_label
from service.json_io import decode_json, json_response
from service.model_store import ModelStore
from service.prediction import Prediction, predict
from service.request_body import read_json
from service.servable import Servable
from service.settings import Settings
from service.v2_inputs import DATATYPES, parse_request

SERVER_NAME = "underwriting-model-service"
BINARY_HEADER = "Inference-Header-Content-Length"  # Triton's binary tensor data extension


def create_blueprint(store: ModelStore, settings: Settings) -> Blueprint:
    """Return the /v2 routes bound to one store and settings."""
    bp = Blueprint("v2", __name__, url_prefix="/v2")
    server = {"name": SERVER_NAME, "version": server_version(), "extensions": []}

    @bp.get("")
    def server_metadata() -> Response:
        """Name the server, its version and the protocol extensions it supports (none)."""
        return json_response(server)

    @bp.get("/health/live")
    def live() -> Response:
        """Answer while the worker can serve HTTP."""
        return json_response({"live": True})

    @bp.get("/health/ready")
    def ready() -> Response:
        """Answer 200 once every model is loaded and warm, else 503 saying what is missing."""
        missing = {n: store.not_ready_reason(n) for n in store.servable_names()
                   if n not in store.serving()}  # fmt: skip
        if missing:
            raise NotReady("Not ready: " + "; ".join(missing.values()), {"models": missing})
        return json_response({"ready": True})

    @bp.get("/models/<model:name>")
    @bp.get("/models/<model:name>/versions/<int:version>")
    def model_metadata(name: str, version: int | None = None) -> Response:
        """Describe a model's inputs (from its feature declaration) and outputs."""
        return json_response(metadata_body(store.get(name, version)))

    @bp.get("/models/<model:name>/ready")
    @bp.get("/models/<model:name>/versions/<int:version>/ready")
    def model_ready(name: str, version: int | None = None) -> Response:
        """Answer 200 if the model (version) is loaded and warm; 404 or 503 otherwise."""
        store.get(name, version)
        return json_response({"name": name, "ready": True})

    @bp.post("/models/<model:name>/infer")
    @bp.post("/models/<model:name>/versions/<int:version>/infer")
    def infer(name: str, version: int | None = None) -> Response:
        """Validate the tensors as columns, then score them in one call."""
        servable = store.get(name, version)
        envelope, columns = parse_request(_read_body(), servable.features)
        wanted = _requested_outputs(envelope, servable)
        validated = servable.validator.columns_valid(columns, settings.max_records)
        batch = Batch.from_columns(validated, servable.layout)
        metrics.REQUEST_RECORDS.labels(route_label()).observe(batch.size)
        prediction = predict(servable, batch)
        access_log.note_prediction(prediction.size, prediction.versions)
        return json_response(infer_body(servable, prediction, envelope, wanted))

    return bp


def server_version() -> str:
    try:
        return package_metadata.version(SERVER_NAME)
    except package_metadata.PackageNotFoundError:
        return "0+unknown"


def _read_body() -> Any:
    """Parse the JSON body; V2 clients such as tritonclient send it without a Content-Type."""
    if BINARY_HEADER in request.headers:
        raise InvalidInput(
            "Binary tensor data is not supported: send the data as JSON "
            "(tritonclient: set_data_from_numpy(..., binary_data=False))",
            {"headers": {BINARY_HEADER: ["Not supported."]}},
        )
    if request.headers.get("Content-Type"):
        return read_json(request)  # a declared type must be JSON (415 otherwise)
    try:
        return decode_json(request.get_data(cache=False))
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("Malformed JSON in request body", {"json": [str(exc)]}) from None


def output_specs(servable: Servable) -> list[dict[str, Any]]:
    """Name, datatype and shape of every output a servable answers with, in response order."""
    specs: list[dict[str, Any]] = []
    for model in servable.models:
        if model.output_name == "probabilities":
            classes = len(model.artifact.metadata["class_names"])
            specs.append({"name": "probabilities", "datatype": "FP32", "shape": [-1, classes]})
            specs.append({"name": "risk_class", "datatype": "BYTES", "shape": [-1]})
        else:
            specs.append({"name": model.output_name, "datatype": "FP32", "shape": [-1]})
    return specs


def _requested_outputs(envelope: dict[str, Any], servable: Servable) -> list[str]:
    """Return the outputs to send: those named in the request, else all."""
    available = [spec["name"] for spec in output_specs(servable)]
    wanted = [output["name"] for output in envelope.get("outputs") or []]
    if unknown := sorted(set(wanted) - set(available)):
        raise InvalidInput(
            f"Unknown outputs requested: {', '.join(unknown)} (available: {', '.join(available)})",
            {"outputs": {name: ["Not an output of this model."] for name in unknown}},
        )
    return wanted or available


def _parameters(servable: Servable) -> dict[str, Any]:
    """The model versions behind a name and, for a classifier, the class order."""
    described: dict[str, Any] = {
        "model_versions": {n: str(v) for n, v in servable.versions.items()}
    }
    for model in servable.models:
        if "class_names" in model.artifact.metadata:
            described["class_names"] = list(model.artifact.metadata["class_names"])
    return described


def model_version(servable: Servable) -> str:
    """A single model's version; for a composite, its components' (`risk_class:1,...`)."""
    if servable.version is not None:
        return str(servable.version)
    return ",".join(f"{name}:{version}" for name, version in servable.versions.items())


def metadata_body(servable: Servable) -> dict[str, Any]:
    """Describe a servable in V2's model metadata shape."""
    inputs = [
        {"name": f["name"], "datatype": DATATYPES[f["type"]][0], "shape": [-1]}
        for f in servable.features
    ]
    return {
        "name": servable.name,
        "versions": [] if servable.version is None else [str(servable.version)],
        "platform": "ensemble" if servable.version is None else "tensorflow_savedmodel",
        "inputs": inputs,
        "outputs": output_specs(servable),
        "parameters": _parameters(servable),
    }


def _output_data(prediction: Prediction) -> dict[str, tuple[list[int], list[Any]]]:
    """Each output's shape and flat (row-major) data."""
    n = prediction.size
    data: dict[str, tuple[list[int], list[Any]]] = {}
    if prediction.probabilities is not None and prediction.risk_class is not None:
        probabilities = prediction.probabilities
        data["probabilities"] = ([n, probabilities.shape[1]], probabilities.ravel().tolist())
        data["risk_class"] = ([n], prediction.risk_class.tolist())
    if prediction.max_coverage is not None:
        data["max_coverage"] = ([n], prediction.max_coverage.tolist())
    return data


def infer_body(
    servable: Servable, prediction: Prediction, envelope: dict[str, Any], wanted: list[str]
) -> dict[str, Any]:
    """Shape the V2 inference response."""
    datatypes = {spec["name"]: spec["datatype"] for spec in output_specs(servable)}
    data = _output_data(prediction)
    outputs = [
        {"name": name, "datatype": datatypes[name], "shape": data[name][0], "data": data[name][1]}
        for name in wanted
    ]
    body: dict[str, Any] = {"model_name": servable.name, "model_version": model_version(servable)}
    if "id" in envelope:
        body["id"] = envelope["id"]
    body["parameters"] = {"model_versions": _parameters(servable)["model_versions"]}
    body["outputs"] = outputs
    return body
