"""Open Inference Protocol (V2) responses: model metadata and inference bodies.

Outputs: `probabilities` [N, classes] FP32 in `class_names` order, `risk_class` [N] BYTES and
`max_coverage` [N] FP32, as the servable has them; data is flat, in row-major order.
"""

from __future__ import annotations

from typing import Any

from service.errors import InvalidInput
from service.prediction import Prediction
from service.servable import Servable
from service.v2_inputs import DATATYPES


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


def requested_outputs(envelope: dict[str, Any], servable: Servable) -> list[str]:
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
