"""OpenAPI components for what the service answers (JSON Schema; checked by schemathesis)."""

from __future__ import annotations

from typing import Any

STRING = {"type": "string"}
NUMBER = {"type": "number"}
DOLLARS = {"type": "number", "minimum": 0, "description": "Maximum coverage in dollars."}
VERSIONS = {"type": "object", "additionalProperties": STRING, "description": "Model -> version."}


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


def response_schemas(class_names: list[str], outputs: list[str]) -> dict[str, dict[str, Any]]:
    """Name -> JSON Schema of every response body; classes and outputs from the metadata."""
    risk_class = {"type": "string", "enum": class_names}
    probabilities = _object({name: {"type": "number", "minimum": 0} for name in class_names},
                            class_names)  # fmt: skip
    tensor = _object(
        {
            "name": {"type": "string", "enum": outputs},
            "datatype": {"type": "string", "enum": ["FP32", "BYTES"]},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "data": {"type": "array", "items": {"anyOf": [NUMBER, risk_class]}},
        },
        ["name", "datatype", "shape", "data"],
    )
    tensor_metadata = _object(
        {
            "name": STRING,
            "datatype": STRING,
            "shape": {"type": "array", "items": {"type": "integer"}},
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
        "Prediction": _object(
            {"risk_class": risk_class, "probabilities": probabilities, "max_coverage": DOLLARS}
        ),
        "PredictRowsResponse": _object(
            {
                "predictions": {"type": "array", "items": _ref("Prediction")},
                "model_versions": VERSIONS,
            },
            ["predictions", "model_versions"],
        ),
        "PredictColumnsResponse": _object(
            {
                "outputs": _object(
                    {
                        "risk_class": {"type": "array", "items": risk_class},
                        "probabilities": {
                            "type": "array",
                            "items": {"type": "array", "items": NUMBER},
                        },
                        "max_coverage": {"type": "array", "items": DOLLARS},
                    }
                ),
                "model_versions": VERSIONS,
            },
            ["outputs", "model_versions"],
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
                "metadata": {"type": "object", "description": "Features, outputs, metrics."},
            },
            ["model_spec", "metadata"],
        ),
        "InferenceResponse": _object(
            {
                "model_name": STRING,
                "model_version": STRING,
                "id": STRING,
                "parameters": {"type": "object"},
                "outputs": {"type": "array", "items": tensor},
            },
            ["model_name", "outputs"],
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
        ),  # fmt: skip
    }
