"""The OpenAPI 3 document of every route, built from the declarations of the models being served.

It is built when asked for, from the servables loaded at that moment (and cached until they
change), so its request schemas are exactly the marshmallow schemas validating requests now.
Every rule in the app's URL map becomes an operation: a route cannot be left out.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from werkzeug.routing import Rule

from contract.features import Feature
from contract.outputs import OutputSpec
from service.dataplane import EXPLAIN_MAX_RECORDS
from service.decisions.case_book import DEFAULT_QUEUE, MAX_QUEUE
from service.decisions.cases import KINDS, OUTCOMES, STATES
from service.decisions.listing import DEFAULT_LIMIT, MAX_LIMIT, MAX_SEQUENCE
from service.errors import NotReady
from service.http.auth import is_protected
from service.inference.servable import Servable
from service.openapi.requests import (
    ERROR_REF,
    add_explain_requests,
    configure,
    example_infer_request,
    example_record,
    request_schemas,
    state_limits,
)
from service.openapi.responses import response_schemas
from service.protocols.v2_outputs import OUTPUT_DATATYPES, SERVER_NAME, output_specs, server_version
from service.settings import Settings

TITLE = "Underwriting model service"
JSON = "application/json"
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # werkzeug's <converter:name> -> {name}
_ERRORS = {
    400: "Invalid input: every failing field, by record index, input or query parameter name.",
    401: "Missing or invalid API key.",
    403: "The API key's role does not reach the route (clients predict, underwriters work "
    "cases, auditors read); a case claimed by another underwriter; without API keys, the case "
    "routes serve no one.",
    404: "Unknown model or request id, a version that is not loaded, or any version of "
    "`underwriting`, which has none of its own; `details.models` names what the route serves "
    "instead.",
    409: "The request id was already used for another request (other applicants, key or "
    "versions); nothing is recorded.",
    413: "Too large a body (SERVICE_MAX_BODY_BYTES), or too many keys in it for any valid request.",
    415: "The body is not declared as JSON.",
    503: "The model is not loaded yet, or a decision could not be recorded (none is given), "
    "or the decision store cannot write (readiness) or be read.",
}
# What GET /docs needs, and their media types (fixed: the platform's mime tables differ).
SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "swagger-init.js": "text/javascript",
}
TAGS = {
    "tf_serving": "TensorFlow Serving REST (/v1)",
    "v2": "Open Inference Protocol (/v2)",
    "decisions": "Decision records",
    "cases": "Underwriters' cases",
    "health": "Health",
    "metrics": "Metrics",
    "api_docs": "API documentation",
}
_REQUEST_ID = {"X-Request-ID": {"description": "The request's id.", "schema": {"type": "string"}}}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when the request was sent before under its X-Request-ID: the "
        "answer is the one on record, and nothing was recorded again.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


@dataclass(frozen=True)
class Doc:
    """How one endpoint is described: success bodies, request bodies and the errors it gives."""

    ok: tuple[dict[str, Any], ...]
    body: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()
    media: tuple[str, ...] = (JSON,)
    examples: str = ""
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()  # path parameter -> its values
    decides: bool = False  # records decisions: the request id is an idempotency key
    query: tuple[dict[str, Any], ...] = ()  # query parameters, described whole


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _time(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "description": description}


# GET /v1/decisions: a time range [from, to), a page at a time after the previous page's `next`.
LISTING = (
    {
        "in": "query",
        "name": "from",
        "description": "Decisions recorded at or after this time: RFC 3339 with a time zone "
        "(2026-12-01T00:00:00Z, or 2026-12-01T01:00:00%2B01:00 in a URL). Not after `to`.",
        "schema": _time("The start of the range (inclusive)."),
        "x-not-after-to": True,
    },
    {
        "in": "query",
        "name": "to",
        "description": "Decisions recorded before this time (RFC 3339 with a time zone).",
        "schema": _time("The end of the range (exclusive)."),
    },
    {
        "in": "query",
        "name": "after",
        "description": "Only decisions after this sequence: the previous page's `next`.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQUENCE},
    },
    {
        "in": "query",
        "name": "limit",
        "description": "At most this many decisions on the page.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
)


# GET /v1/cases: the queue, filtered, a page at a time after the previous page's `next`.
QUEUE = (
    *(
        {
            "in": "query",
            "name": name,
            "description": description,
            "schema": {"type": "string", "enum": list(values)},
        }
        for name, values, description in (
            ("state", STATES, "Only cases in this state."),
            ("kind", KINDS, "Only referrals, or only audits of straight-through decisions."),
            ("outcome", OUTCOMES, "Only cases whose model decision had this outcome."),
        )
    ),
    {
        "in": "query",
        "name": "reason",
        "description": "Only cases whose decision gave this reason or fired this rule (a code).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,16}$"},
    },
    {
        "in": "query",
        "name": "after",
        "description": "Only cases after this id: the previous page's `next`.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQUENCE},
    },
    {
        "in": "query",
        "name": "limit",
        "description": "At most this many cases on the page.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_QUEUE,
            "default": DEFAULT_QUEUE,
        },
    },
)
MODEL_ERRORS = (404, 503)
DESCRIBED: dict[str, Doc] = {
    "health.healthz": Doc((_ref("Alive"),)),
    "health.readyz": Doc((_ref("Ready"),), errors=(503,)),
    "metrics.scrape": Doc(({"type": "string"},), media=("text/plain",)),
    "tf_serving.predict_route": Doc(
        (_ref("PredictRowsResponse"), _ref("PredictColumnsResponse")),
        body=("PredictRowsRequest", "PredictColumnsRequest"),
        errors=(400, 404, 409, 413, 415, 503),
        examples="v1",
        decides=True,
    ),
    "tf_serving.explain_route": Doc(
        (_ref("Explanations"),),
        body=("ExplainRowsRequest", "ExplainColumnsRequest"),
        errors=(400, 404, 413, 415, 503),
        examples="v1",
    ),
    "cases.listed": Doc((_ref("CasePage"),), errors=(400, 403, 503), query=QUEUE),
    "cases.case": Doc((_ref("Case"),), errors=(403, 404, 503)),
    "cases.claim": Doc((_ref("Case"),), errors=(403, 404, 409, 503)),
    "cases.release": Doc((_ref("Case"),), errors=(403, 404, 409, 503)),
    "decisions.decisions": Doc((_ref("DecisionRecords"),), errors=(404,)),
    "decisions.listed": Doc((_ref("DecisionPage"),), errors=(400, 503), query=LISTING),
    "tf_serving.status": Doc((_ref("ModelStatus"),), errors=(404,)),
    "tf_serving.metadata": Doc((_ref("ModelMetadata"),), errors=MODEL_ERRORS),
    "cards.card": Doc(
        (_ref("ModelCard"), _ref("CompositeModelCard")),
        errors=(400, *MODEL_ERRORS),
        media=(JSON, "text/markdown"),
    ),
    "v2.server_metadata": Doc((_ref("V2ServerMetadata"),)),
    "v2.live": Doc((_ref("V2Live"),)),
    "v2.ready": Doc((_ref("V2Ready"),), errors=(503,)),
    "v2.model_metadata": Doc((_ref("V2ModelMetadata"),), errors=MODEL_ERRORS),
    "v2.model_ready": Doc((_ref("V2ModelReady"),), errors=MODEL_ERRORS),
    "v2.infer": Doc(
        (_ref("InferenceResponse"),),
        body=("InferenceRequest",),
        errors=(400, 404, 409, 413, 415, 503),
        examples="v2",
        decides=True,
    ),
    "api_docs.openapi": Doc(({"type": "object"},), errors=(503,)),
    "api_docs.docs": Doc(({"type": "string"},), media=("text/html",)),
    "api_docs.asset": Doc(
        ({"type": "string"},),
        errors=(404,),
        media=tuple(SWAGGER_ASSETS.values()),
        enums=(("asset", tuple(SWAGGER_ASSETS)),),
    ),
}


@dataclass
class _Context:
    names: list[str]
    suffixes: list[str]
    auth: bool
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)


def build(app: Flask, serving: dict[str, Servable], settings: Settings, auth: bool) -> dict:
    """Return the OpenAPI document of `app` for the servables in `serving`."""
    if not serving:
        raise NotReady("The API document is built from the loaded models; none is loaded yet")
    plugin = MarshmallowPlugin()
    spec = APISpec(TITLE, server_version(), "3.0.3", plugins=[plugin], info=_info(auth))
    configure(plugin)
    groups = _declarations(serving)
    for suffix, servable in groups:
        schemas = request_schemas(
            servable.validator, servable.request_fields, settings.max_records, suffix
        )
        for name, schema in schemas.items():
            spec.components.schema(name, schema=schema)
    decides = any(s.policy is not None for s in serving.values())
    for name, described in _responses(serving, decides).items():
        spec.components.schema(name, component=described)
    if auth:
        spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    features = groups[0][1].request_fields  # requested_coverage too: the examples decide
    context = _Context(list(serving), [s for s, _ in groups], auth, _examples(features))
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        path = _ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule, context)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    outputs = {o["name"] for s in serving.values() for o in output_specs(s)}
    schemas = document["components"]["schemas"]
    state_limits(schemas, settings.max_records, sorted(outputs))
    add_explain_requests(schemas, context.suffixes, min(settings.max_records, EXPLAIN_MAX_RECORDS))
    return document


def _info(auth: bool) -> dict[str, Any]:
    access = "an API key (`Authorization: Bearer <key>`)" if auth else "no API key (open)"
    return {
        "description": f"{SERVER_NAME}: TensorFlow Serving REST (/v1) and the Open Inference "
        f"Protocol (/v2). Request schemas come from the served models' feature declaration. "
        f"Prediction and metadata routes need {access}."
    }


def _declarations(serving: dict[str, Servable]) -> list[tuple[str, Servable]]:
    """One servable per distinct feature declaration; suffixes only if there are several."""
    distinct: dict[str, Servable] = {}
    for servable in serving.values():
        distinct.setdefault(servable.models[0].features_key, servable)
    if len(distinct) == 1:
        return [("", next(iter(distinct.values())))]
    return [(f"_{servable.name}", servable) for servable in distinct.values()]


def _responses(serving: dict[str, Servable], decides: bool) -> dict[str, dict[str, Any]]:
    """Response bodies over the union of the served outputs, in /v1 order."""
    outputs: dict[str, OutputSpec] = {}
    for servable in serving.values():
        outputs |= {o.name: o.spec for o in servable.answer_first if o.name not in outputs}
    datatypes = list(dict.fromkeys(OUTPUT_DATATYPES[o.dtype] for o in outputs.values()))
    return response_schemas(list(outputs.values()), datatypes, decides)


def _examples(features: tuple[Feature, ...]) -> dict[str, dict[str, Any]]:
    record = example_record(features)
    return {
        "v1": {
            "rows": {"value": {"instances": [record]}},
            "columns": {"value": {"inputs": {name: [value] for name, value in record.items()}}},
        },
        "v2": {"one applicant": {"value": example_infer_request(features)}},
    }


def _operation(app: Flask, rule: Rule, context: _Context) -> dict[str, Any]:
    """Describe one rule: summary from the view's docstring, parameters, bodies, responses."""
    endpoint = rule.endpoint
    doc = DESCRIBED.get(endpoint, Doc(()))
    summary = (inspect.getdoc(app.view_functions[endpoint]) or endpoint).splitlines()[0]
    versioned = "version" in rule.arguments
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": endpoint + ("_version" if versioned else ""),
        "tags": [TAGS.get(endpoint.split(".")[0], endpoint.split(".")[0])],
        "parameters": _parameters(rule, context, dict(doc.enums)) + list(doc.query),
        "responses": _operation_responses(doc, context.auth and is_protected(endpoint)),
    }
    if doc.body:
        refs = [_ref(name + suffix) for name in doc.body for suffix in context.suffixes]
        media: dict[str, Any] = {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}
        if doc.examples:
            media["examples"] = context.examples[doc.examples]
        operation["requestBody"] = {"required": True, "content": {JSON: media}}
    if context.auth and is_protected(endpoint):
        operation["security"] = [{"bearerAuth": []}]
    return operation


def _parameters(
    rule: Rule, context: _Context, enums: dict[str, tuple[str, ...]]
) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name in sorted(enums):
        values = {"type": "string", "enum": list(enums[name])}
        parameters.append({"in": "path", "name": name, "required": True, "schema": values})
    if "name" in rule.arguments:
        names = {"type": "string", "enum": context.names}
        parameters.append({"in": "path", "name": "name", "required": True, "schema": names})
    if "request_id" in rule.arguments:
        request_id = {"type": "string", "minLength": 1, "maxLength": 128}
        parameters.append(
            {
                "in": "path",
                "name": "request_id",
                "required": True,
                "description": "The X-Request-ID of the predict request.",
                "schema": request_id,
            }
        )
    if "case_id" in rule.arguments:
        case_id = {"type": "integer", "minimum": 0, "maximum": MAX_SEQUENCE}
        parameters.append(
            {
                "in": "path",
                "name": "case_id",
                "required": True,
                "description": "The case's id (the queue lists them).",
                "schema": case_id,
            }
        )
    if "version" in rule.arguments:
        version = {"type": "integer", "minimum": 0}
        parameters.append(
            {
                "in": "path",
                "name": "version",
                "required": True,
                "description": "A model's own version, the one it serves (another: 404). "
                "`underwriting` has none of its own (it serves its models' serving versions): "
                "with a version it is a 404 naming the models to pin instead.",
                "schema": version,
            }
        )
    parameters.append(
        {
            "in": "header",
            "name": "X-Request-ID",
            "required": False,
            "description": "Your id for the request (echoed; a new one is made if absent). "
            "Where decisions are recorded it is an idempotency key: the same request sent "
            "again under it is answered from the record, another request under it is a 409.",
            "schema": {"type": "string"},
        }
    )
    return parameters


def _operation_responses(doc: Doc, protected: bool) -> dict[str, Any]:
    """The success body (any of `doc.ok`), each documented error, and the envelope otherwise."""
    responses: dict[str, Any] = {}
    if doc.ok:
        schema = doc.ok[0] if len(doc.ok) == 1 else {"anyOf": list(doc.ok)}
        responses["200"] = {
            "description": "OK",
            "headers": _REQUEST_ID | (_REPLAYED if doc.decides else {}),
            "content": {
                media: {"schema": schema if media == JSON else {"type": "string"}}
                for media in doc.media
            },
        }
    for status in sorted({*doc.errors, *((401, 403) if protected else ())}):
        responses[str(status)] = _error(_ERRORS[status], status == 401)
    responses["default"] = _error("Any other error, in the same envelope.")
    return responses


def _error(description: str, challenge: bool = False) -> dict[str, Any]:
    headers = dict(_REQUEST_ID)
    if challenge:
        headers["WWW-Authenticate"] = {"description": "Bearer", "schema": {"type": "string"}}
    return {
        "description": description,
        "headers": headers,
        "content": {JSON: {"schema": ERROR_REF}},
    }
