"""Open Inference Protocol (V2) responses: model metadata and inference bodies.

Outputs are whatever the servable's artifacts declare (per model: declared, then derived), each
with the V2 datatype of its dtype and shape [N] or [N, k]; data is flat, in row-major order.
"""

from __future__ import annotations

from collections import Counter
from importlib import metadata as package_metadata
from typing import Any

import orjson

from service.errors import InvalidInput
from service.inference.prediction import DECISION_OUTPUT, Prediction
from service.inference.servable import Servable
from service.protocols.v2_inputs import DATATYPES

# The V2 datatype of each output dtype.
OUTPUT_DATATYPES = {
    "float32": "FP32",
    "float64": "FP64",
    "int64": "INT64",
    "bool": "BOOL",
    "string": "BYTES",
}


SERVER_NAME = "underwriting-model-service"
# How much of a client's unknown output names an error repeats back.
NAMES_SHOWN, NAME_SHOWN = 10, 128


def server_version() -> str:
    """Return the installed distribution's version."""
    try:
        return package_metadata.version(SERVER_NAME)
    except package_metadata.PackageNotFoundError:
        return "0+unknown"


def output_specs(servable: Servable) -> list[dict[str, Any]]:
    """Name, datatype and shape of every output a servable answers with, in response order."""
    specs = [
        {
            "name": output.name,
            "datatype": OUTPUT_DATATYPES[output.spec.dtype],
            "shape": list(output.spec.shape),
        }
        for output in servable.outputs
    ]
    if servable.policy is not None:
        specs.append({"name": DECISION_OUTPUT, "datatype": "BYTES", "shape": [-1]})
    return specs


def requested_outputs(envelope: dict[str, Any], servable: Servable) -> list[str]:
    """Return the outputs to send: those named in the request, else all."""
    available = [spec["name"] for spec in output_specs(servable)]
    wanted = [output["name"] for output in envelope.get("outputs") or []]
    if unknown := sorted(set(wanted) - set(available)):
        shown = [name[:NAME_SHOWN] for name in unknown[:NAMES_SHOWN]]
        raise InvalidInput(
            f"Unknown outputs requested: {', '.join(shown)} (available: {', '.join(available)})",
            {"outputs": {name: ["Not an output of this model."] for name in shown}},
        )
    if len(wanted) != len(set(wanted)):  # each would be encoded again: bounded work
        repeated = sorted(name for name, count in Counter(wanted).items() if count > 1)
        raise InvalidInput(
            f"Outputs requested more than once: {', '.join(repeated)}; name each once",
            {"outputs": {name: ["Requested more than once."] for name in repeated}},
        )
    return wanted or available


def _parameters(servable: Servable) -> dict[str, Any]:
    """The model versions behind a name and, for a classifier, the class order."""
    described: dict[str, Any] = {
        "model_versions": {n: str(v) for n, v in servable.versions.items()}
    }
    for model in servable.models:
        if model.metadata.class_names is not None:
            described["class_names"] = list(model.metadata.class_names)
    return described


def model_version(servable: Servable) -> str:
    """A single model's version; for a composite, its components' (`risk_class:1,...`)."""
    if servable.version is not None:
        return str(servable.version)
    return ",".join(f"{name}:{version}" for name, version in servable.versions.items())


def metadata_body(servable: Servable) -> dict[str, Any]:
    """Describe a servable in V2's model metadata shape."""
    inputs: list[dict[str, Any]] = [
        {"name": f.name, "datatype": DATATYPES[f.type][0], "shape": [-1]} for f in servable.features
    ]
    for optional in servable.request_fields[len(servable.features) :]:
        inputs.append(
            {
                "name": optional.name,
                "datatype": DATATYPES[optional.type][0],
                "shape": [-1],
                "parameters": {"optional": True},
            }
        )
    return {
        "name": servable.name,
        "versions": [] if servable.version is None else [str(servable.version)],
        "platform": "ensemble" if servable.version is None else servable.models[0].runtime.platform,
        "inputs": inputs,
        "outputs": output_specs(servable),
        "parameters": _parameters(servable),
    }


def infer_body(
    servable: Servable,
    prediction: Prediction,
    envelope: dict[str, Any],
    wanted: list[str],
    request_id: str,
) -> dict[str, Any]:
    """Shape the V2 inference response: the request's `id` echoed (the request id if it sent
    none), the request id and the model versions under `parameters`."""
    datatypes = {spec["name"]: spec["datatype"] for spec in output_specs(servable)}
    outputs = []
    for name in wanted:
        if name == DECISION_OUTPUT and prediction.decisions is not None:
            data = [orjson.dumps(d).decode() for d in prediction.decisions]
            outputs.append({"name": name, "datatype": "BYTES", "shape": [len(data)], "data": data})
            continue
        values = prediction.outputs[name]
        outputs.append(
            {
                "name": name,
                "datatype": datatypes[name],
                "shape": list(values.shape),
                "data": values.ravel().tolist(),
            }
        )
    return {
        "model_name": servable.name,
        "model_version": model_version(servable),
        "id": envelope.get("id", request_id),
        "parameters": {
            "model_versions": _parameters(servable)["model_versions"],
            "request_id": request_id,
        },
        "outputs": outputs,
    }
