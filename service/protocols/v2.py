"""Open Inference Protocol (V2, as KServe, MLServer and Triton speak it): a thin adapter.

Each feature column is one input tensor of shape [N]; the tensors become the same columns the
TF Serving columnar format carries, checked by the same validator and scored by the same core.
Responses are JSON; a request for binary outputs gets JSON, which V2 clients read as well.

The request's `id` is the client's own label, echoed as the protocol asks; the service's request
id (`X-Request-ID`, the key a request's decisions are recorded and found by) is answered under
`parameters.request_id`, and stands in for `id` when the request has none.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from service.dataplane import Columns, Dataplane
from service.errors import InvalidInput
from service.http import caller
from service.http.caller import replay_marked
from service.http.json_io import json_response
from service.http.request_body import (
    parse_json,
    read_body,
    read_raw,
    refuse_encoded,
    refuse_excess_keys,
)
from service.observability import request_hooks
from service.protocols.v2_inputs import parse_request
from service.protocols.v2_outputs import (
    SERVER_NAME,
    infer_body,
    metadata_body,
    requested_outputs,
    server_version,
)
from service.validation.validator import key_limit

BINARY_HEADER = "Inference-Header-Content-Length"  # Triton's binary tensor data extension


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the /v2 routes bound to one dataplane."""
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
        dataplane.ready()
        return json_response({"ready": True})

    @bp.get("/models/<model:name>")
    @bp.get("/models/<model:name>/versions/<int:version>")
    def model_metadata(name: str, version: int | None = None) -> Response:
        """Describe a model's inputs (from its feature declaration) and outputs."""
        return json_response(metadata_body(dataplane.servable(name, version)))

    @bp.get("/models/<model:name>/ready")
    @bp.get("/models/<model:name>/versions/<int:version>/ready")
    def model_ready(name: str, version: int | None = None) -> Response:
        """Answer 200 if the model (version) is loaded and warm; 404 or 503 otherwise."""
        dataplane.servable(name, version)
        return json_response({"name": name, "ready": True})

    @bp.post("/models/<model:name>/infer")
    @bp.post("/models/<model:name>/versions/<int:version>/infer")
    def infer(name: str, version: int | None = None) -> Response:
        """Validate the tensors as columns, then score them in one call."""
        servable = dataplane.servable(name, version)
        limit = key_limit(len(servable.request_fields), dataplane.max_records)
        envelope, columns = parse_request(_read_body(limit), servable.request_fields)
        wanted = requested_outputs(envelope, servable)
        explain = (envelope.get("parameters") or {}).get("explain", True)
        if type(explain) is not bool:
            raise InvalidInput(
                "Invalid inference request: parameters.explain must be true or false",
                {"parameters": {"explain": ["Not a boolean."]}},
            )
        sender = caller.current()
        prediction = dataplane.infer(servable, Columns(columns), sender, explain)
        request_hooks.record_scored(prediction.size, prediction.versions)
        body = infer_body(servable, prediction, envelope, wanted, sender.request_id)
        return replay_marked(json_response(body), prediction.replayed)

    return bp


def _read_body(max_keys: int) -> Any:
    """Parse the JSON body; V2 clients such as tritonclient send it without a Content-Type."""
    if BINARY_HEADER in request.headers:
        raise InvalidInput(
            "Binary tensor data is not supported: send the data as JSON "
            "(tritonclient: set_data_from_numpy(..., binary_data=False))",
            {"headers": {BINARY_HEADER: ["Not supported."]}},
        )
    if request.headers.get("Content-Type"):
        body = read_body(request)  # a declared type must be JSON (415 otherwise)
    else:
        refuse_encoded(request)  # tritonclient's compression sends gzip without a Content-Type
        body = read_raw(request)
    refuse_excess_keys(body, max_keys)
    return parse_json(body)
