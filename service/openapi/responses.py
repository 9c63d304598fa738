"""OpenAPI components for what the service answers (JSON Schema; checked by schemathesis).

Prediction bodies are built from the served models' declared outputs, so an output added to a
model's declaration appears here without a change of code.
"""

from __future__ import annotations

import json
from typing import Any

from contract.outputs import OutputSpec
from service.decisions.case_book import ACTIONS
from service.decisions.cases import KINDS, OUTCOMES, STATES
from service.inference.prediction import DECISION_OUTPUT

STRING = {"type": "string"}
VERSIONS = {"type": "object", "additionalProperties": STRING, "description": "Model -> version."}
REQUEST_ID = {
    "type": "string",
    "description": "The request's id, as in the X-Request-ID header: the key its decisions are "
    "recorded under (GET /v1/decisions/{request_id}).",
}
_JSON_TYPES = {"float32": "number", "float64": "number", "int64": "integer", "bool": "boolean"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        described["required"] = required
    return described


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _value(spec: OutputSpec) -> dict[str, Any]:
    """JSON Schema of one value of an output (one entry of a [N, k] output)."""
    if spec.dtype == "string":
        return {"type": "string", "enum": list(spec.values)} if spec.values else dict(STRING)
    value: dict[str, Any] = {"type": _JSON_TYPES[spec.dtype]}
    bounds = {"minimum": spec.minimum, "maximum": spec.maximum}
    return value | {key: bound for key, bound in bounds.items() if bound is not None}


def _per_record(spec: OutputSpec) -> dict[str, Any]:
    """JSON Schema of one record's value of an output in the row format."""
    if spec.labels is not None:
        described = _object({label: _value(spec) for label in spec.labels}, list(spec.labels))
    elif spec.width is not None:
        described = {"type": "array", "items": _value(spec)}
    else:
        described = _value(spec)
    return described | {"description": spec.description}


def _column(spec: OutputSpec) -> dict[str, Any]:
    """JSON Schema of an output in the columnar format: one entry per record."""
    item = _value(spec)
    if spec.width is not None:
        item = {"type": "array", "items": item}
    return {"type": "array", "items": item, "description": spec.description}


def _distinct(schemas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    unique = {json.dumps(s, sort_keys=True): s for s in schemas}
    return list(unique.values())


NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": "number", "nullable": True}


def decision_schemas() -> dict[str, dict[str, Any]]:
    """The decision a deciding model gives per record, its reasons and its stored record."""
    reason = {
        "type": "object",
        "properties": {
            "code": STRING,
            "feature": {"type": "string", "description": "A feature with a risk direction."},
            "text": {"type": "string", "description": "The policy's wording for it."},
            "value": {"description": "The applicant's own value (the item of information)."},
            "contribution": NULLABLE_NUMBER
            | {
                "description": "How much it raised the explained probability above the "
                "applicant's best-risk reference; null for a knock-out when reasons were skipped."
            },
            "related": {"type": "object", "description": "Other features sharing the code."},
        },
        "required": ["code", "feature", "text", "value", "contribution"],
        "additionalProperties": False,
    }
    rule = {
        "type": "object",
        "properties": {
            "rule": {
                "type": "string",
                "enum": ["knock_out", "out_of_range", "confidence", "face_amount"],
            },
            "code": STRING,
            "text": STRING,
        },
        "required": ["rule", "code", "text"],
        "description": "A policy rule that fired, with what it compared.",
    }
    decision = _object(
        {
            "outcome": {"type": "string", "enum": ["accept", "refer", "decline"]},
            "risk_class": STRING,
            "offer": NULLABLE_NUMBER | {"description": "Coverage offered, in dollars."},
            "reasons": {"type": "array", "items": _ref("Reason"), "maxItems": 4},
            "reasons_complete": {"type": "boolean", "nullable": True},
            "rules": {"type": "array", "items": _ref("DecisionRule")},
            "policy_version": {"type": "integer"},
        },
        [
            "outcome",
            "risk_class",
            "offer",
            "reasons",
            "reasons_complete",
            "rules",
            "policy_version",
        ],
    )
    stored = _object(
        {
            "sequence": {"type": "integer", "description": "The record's place in the chain."},
            "request_id": STRING,
            "index": {"type": "integer"},
            "decided_at": {"type": "string", "format": "date-time"},
            "model_versions": {"type": "object", "additionalProperties": {"type": "integer"}},
            "fingerprint": {"type": "string", "description": "sha256 of the applicant's record."},
            "key_id": {
                "type": "string",
                "nullable": True,
                "description": "The id of the API key that asked (null: no keys required; "
                "absent from records written before keys were recorded).",
            },
            "decision": _ref("Decision"),
            "previous_hash": STRING,
            "hash": STRING,
        },
        [
            "sequence",
            "request_id",
            "index",
            "decided_at",
            "model_versions",
            "fingerprint",
            "decision",
            "previous_hash",
            "hash",
        ],
    )
    target = _object(
        {"difference": NUMBER, "attributions": {"type": "object", "additionalProperties": NUMBER}},
        ["difference", "attributions"],
    )
    explained = _object(
        {
            "targets": {"type": "object", "additionalProperties": target},
            "complete": {"type": "boolean"},
            "steps": {"type": "integer"},
        },
        ["targets", "complete", "steps"],
    )
    return {
        "Reason": reason,
        "DecisionRule": rule,
        "Decision": decision,
        "DecisionRecord": stored,
        "DecisionRecords": _object(
            {"request_id": STRING, "decisions": {"type": "array", "items": _ref("DecisionRecord")}},
            ["request_id", "decisions"],
        ),
        "DecisionPage": _object(
            {
                "decisions": {"type": "array", "items": _ref("DecisionRecord")},
                "next": {
                    "type": "integer",
                    "nullable": True,
                    "description": "The `after` of the next page; null: no more decisions (a "
                    "range still open may gain some: ask again after the last sequence seen).",
                },
            },
            ["decisions", "next"],
        ),
        "Explanations": _object(
            {
                "explanations": {"type": "array", "items": explained},
                "model_versions": VERSIONS,
                "request_id": REQUEST_ID,
            },
            ["explanations", "model_versions", "request_id"],
        ),
    }


def card_schemas() -> dict[str, dict[str, Any]]:
    """A model card (contract.card) and a composite's cards."""
    anything = {"type": "object"}
    nullable_text = {"type": "string", "nullable": True}
    card = _object(
        {
            "model": _object(
                {
                    "name": STRING,
                    "version": {"type": "integer"},
                    "task": STRING,
                    "description": STRING,
                    "created_at": STRING,
                },
                ["name", "version", "task"],
            ),
            "owner": nullable_text,
            "validation_date": nullable_text,
            "publication_gate": {**anything, "nullable": True},
            "provenance": {"type": "array", "items": anything},
            "intended_use": nullable_text,
            "inputs": {"type": "array", "items": anything},
            "prohibited_fields": anything,
            "outputs": {"type": "array", "items": anything},
            "training_data": anything,
            "evaluation": anything,
            "monotonicity": {**anything, "nullable": True},
            "fairness": {**anything, "nullable": True},
            "explanations": {**anything, "nullable": True},
            "decision_policy": {**anything, "nullable": True},
            "limitations": {"type": "array", "items": STRING},
        },
        [
            "model",
            "intended_use",
            "inputs",
            "outputs",
            "training_data",
            "evaluation",
            "fairness",
            "decision_policy",
            "limitations",
        ],
    )
    composite = _object(
        {"name": STRING, "models": {"type": "array", "items": _ref("ModelCard")}},
        ["name", "models"],
    )
    return {"ModelCard": card, "CompositeModelCard": composite}


def response_schemas(
    outputs: list[OutputSpec], datatypes: list[str], decides: bool = False
) -> dict[str, dict[str, Any]]:
    """Name -> JSON Schema of every response body; outputs as the served models declare them."""
    items = _distinct([_value(spec) for spec in outputs] + ([STRING] if decides else []))
    names = [spec.name for spec in outputs] + ([DECISION_OUTPUT] if decides else [])
    datatypes = list(dict.fromkeys(datatypes + (["BYTES"] if decides else [])))
    per_record = {spec.name: _per_record(spec) for spec in outputs}
    columns = {spec.name: _column(spec) for spec in outputs}
    if decides:
        per_record[DECISION_OUTPUT] = _ref("Decision")
        columns[DECISION_OUTPUT] = {"type": "array", "items": _ref("Decision")}
    tensor = _object(
        {
            "name": {"type": "string", "enum": names},
            "datatype": {"type": "string", "enum": datatypes},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "data": {"type": "array", "items": items[0] if len(items) == 1 else {"anyOf": items}},
        },
        ["name", "datatype", "shape", "data"],
    )
    tensor_metadata = _object(
        {
            "name": STRING,
            "datatype": STRING,
            "shape": {"type": "array", "items": {"type": "integer"}},
            "parameters": {"type": "object", "description": "optional: true for request fields."},
        },
        ["name", "datatype", "shape"],
    )
    version_status = _object(
        {
            "version": STRING,
            "state": {"type": "string", "enum": ["LOADING", "AVAILABLE", "END"]},
            "status": _object(
                {"error_code": STRING, "error_message": STRING}, ["error_code", "error_message"]
            ),
            "model": STRING,
        },
        ["version", "state", "status"],
    )
    return {
        "Error": _object(
            {
                "error": {"type": "string", "description": "One-line summary."},
                "details": {"type": "object", "description": "Failing fields, by record index."},
            },
            ["error", "details"],
        ),
        **decision_schemas(),
        **case_schemas(),
        "Prediction": _object(per_record),
        "PredictRowsResponse": _object(
            {
                "predictions": {"type": "array", "items": _ref("Prediction")},
                "model_versions": VERSIONS,
                "request_id": REQUEST_ID,
            },
            ["predictions", "model_versions", "request_id"],
        ),
        "PredictColumnsResponse": _object(
            {
                "outputs": _object(columns),
                "model_versions": VERSIONS,
                "request_id": REQUEST_ID,
            },
            ["outputs", "model_versions", "request_id"],
        ),
        "ModelStatus": _object(
            {"model_version_status": {"type": "array", "items": version_status}},
            ["model_version_status"],
        ),
        "ModelMetadata": _object(
            {
                "model_spec": _object(
                    {"name": STRING, "signature_name": STRING, "version": STRING},
                    ["name", "signature_name", "version"],
                ),
                "metadata": {
                    "type": "object",
                    "description": "`features` exactly as in metadata.json; `optional_fields`, "
                    "what a record may carry besides them (`requested_coverage`, read by a "
                    "decision policy); `outputs`; `versions`, as a prediction's "
                    "`model_versions`; `metrics`.",
                },
            },
            ["model_spec", "metadata"],
        ),
        **card_schemas(),
        "InferenceResponse": _object(
            {
                "model_name": STRING,
                "model_version": STRING,
                "id": {
                    "type": "string",
                    "description": "The request's `id`, echoed; the request id if it sent none.",
                },
                "parameters": {
                    "type": "object",
                    "properties": {"model_versions": VERSIONS, "request_id": REQUEST_ID},
                    "required": ["model_versions", "request_id"],
                },
                "outputs": {"type": "array", "items": tensor},
            },
            ["model_name", "model_version", "id", "parameters", "outputs"],
        ),
        "V2ModelMetadata": _object(
            {
                "name": STRING,
                "versions": {"type": "array", "items": STRING},
                "platform": STRING,
                "inputs": {"type": "array", "items": tensor_metadata},
                "outputs": {"type": "array", "items": tensor_metadata},
                "parameters": {"type": "object"},
            },
            ["name", "platform", "inputs", "outputs"],
        ),
        "V2ServerMetadata": _object(
            {"name": STRING, "version": STRING, "extensions": {"type": "array", "items": STRING}},
            ["name", "version", "extensions"],
        ),
        "V2ModelReady": _object({"name": STRING, "ready": {"type": "boolean"}}, ["name", "ready"]),
        "V2Live": _object({"live": {"type": "boolean"}}, ["live"]),
        "V2Ready": _object({"ready": {"type": "boolean"}}, ["ready"]),
        "Alive": _object({"status": {"type": "string", "enum": ["alive"]}}, ["status"]),
        "Ready": _object(
            {
                "status": {"type": "string", "enum": ["ready"]},
                "models": {"type": "object", "additionalProperties": VERSIONS},
            },
            ["status", "models"],
        ),
    }


def case_schemas() -> dict[str, dict[str, Any]]:
    """An underwriter's case: as the queue lists it, and whole."""
    time = {"type": "string", "format": "date-time"}
    summary = {
        "case_id": {
            "type": "integer",
            "description": "The case's id: the sequence of the decision record that opened it.",
        },
        "kind": {"type": "string", "enum": list(KINDS)},
        "state": {"type": "string", "enum": list(STATES)},
        "opened_at": time,
        "updated_at": time,
        "request_id": STRING,
        "index": {"type": "integer", "description": "The record's place in its request."},
        "outcome": {"type": "string", "enum": list(OUTCOMES), "description": "The model's."},
        "assignee": {"type": "string", "nullable": True, "description": "Who holds the case."},
        "assignee_key_id": {"type": "string", "nullable": True},
    }
    event = _object(
        {"at": time, "actor": STRING, "action": {"type": "string", "enum": list(ACTIONS)}},
        ["at", "actor", "action"],
    )
    whole = summary | {
        "applicant": {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "description": "The applicant's validated record (personal data); null once erased "
            "(SERVICE_CASE_APPLICANT_DAYS after the case opened).",
        },
        "applicant_erased_at": time | {"nullable": True},
        "outputs": {
            "type": "object",
            "additionalProperties": True,
            "description": "The model's outputs for the record, by output name.",
        },
        "record": _ref("DecisionRecord"),
        "history": {"type": "array", "items": _ref("CaseEvent")},
    }
    return {
        "CaseSummary": _object(summary, list(summary)),
        "CaseEvent": event,
        "Case": _object(whole, list(whole)),
        "CasePage": _object(
            {
                "cases": {"type": "array", "items": _ref("CaseSummary")},
                "next": {
                    "type": "integer",
                    "nullable": True,
                    "description": "The `after` of the next page; null: no more cases.",
                },
            },
            ["cases", "next"],
        ),
    }
