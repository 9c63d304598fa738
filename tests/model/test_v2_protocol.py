"""The Open Inference Protocol (V2) routes through the Flask test client, over real models."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from api_support import v2_request
from service_support import TEST_MAX_RECORDS, applicant_columns, declared_features

INFER = "/v2/models/{}/infer"
CLASS_NAMES = ["standard", "substandard", "decline"]
OUTPUTS = {
    "underwriting": ["probabilities", "risk_class", "max_coverage", "decision"],
    "risk_class": ["probabilities", "risk_class"],
    "max_coverage": ["max_coverage"],
}


@pytest.fixture(scope="module")
def features(service_models_dir: Path) -> list[dict[str, Any]]:
    return declared_features(service_models_dir)


@pytest.fixture(scope="module")
def columns() -> dict[str, list[Any]]:
    return applicant_columns(rows=4, seed=21)


@pytest.fixture
def request_body(columns: dict[str, list[Any]], features: list[dict[str, Any]]) -> dict[str, Any]:
    return v2_request(columns, features)


def infer(client: Any, payload: Any, name: str = "underwriting", **kwargs: Any) -> Any:
    return client.post(INFER.format(name), data=json.dumps(payload), **kwargs)


def tensor(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in body["inputs"] if t["name"] == name)


def test_server_metadata_live_and_ready(client: Any) -> None:
    server = client.get("/v2").get_json()
    assert server["name"] == "underwriting-model-service"
    assert server["version"] and server["extensions"] == []
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_model_metadata_comes_from_the_declaration(
    client: Any, features: list[dict[str, Any]], name: str
) -> None:
    response = client.get(f"/v2/models/{name}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == name
    expected = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "category": "BYTES"}
    assert body["inputs"] == [
        {"name": f["name"], "datatype": expected[f["type"]], "shape": [-1]} for f in features
    ] + [
        {
            "name": "requested_coverage",
            "datatype": "FP64",
            "shape": [-1],
            "parameters": {"optional": True},
        }
    ]
    assert [o["name"] for o in body["outputs"]] == OUTPUTS[name]
    if name == "underwriting":
        assert body["versions"] == [] and body["platform"] == "ensemble"
        assert body["parameters"]["model_versions"] == {
            "risk_class": "1",
            "max_coverage": "1",
            "underwriting_policy": "1",
        }
    else:
        assert body["versions"] == ["1"] and body["platform"] == "litert_tflite"  # the runtime
        assert client.get(f"/v2/models/{name}/versions/1").get_json() == body
    if name != "max_coverage":
        assert body["parameters"]["class_names"] == CLASS_NAMES
        probabilities = body["outputs"][0]
        assert probabilities == {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/v2/models/underwriting/ready", 200),
        ("/v2/models/risk_class/versions/1/ready", 200),
        ("/v2/models/max_coverage/ready", 200),
        ("/v2/models/risk_class/versions/2/ready", 404),
        ("/v2/models/underwriting/versions/1/ready", 404),
        ("/v2/models/nope/ready", 404),
    ],
)
def test_model_ready(client: Any, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["ready"] is True


def test_infer_matches_the_tf_serving_route(
    client: Any, columns: dict[str, list[Any]], request_body: dict[str, Any]
) -> None:
    request_body |= {"id": "req-42", "parameters": {"priority": 1}}
    response = infer(client, request_body, content_type="application/json")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model_name"] == "underwriting"
    assert body["model_version"] == "risk_class:1,max_coverage:1,underwriting_policy:1"
    assert body["id"] == "req-42"
    assert body["parameters"]["model_versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }
    outputs = {o["name"]: o for o in body["outputs"]}
    assert list(outputs) == OUTPUTS["underwriting"]
    n = len(columns["age"])
    described = {name: (o["shape"], o["datatype"]) for name, o in outputs.items()}
    assert described == {
        "probabilities": ([n, 3], "FP32"),
        "risk_class": ([n], "BYTES"),
        "max_coverage": ([n], "FP32"),
        "decision": ([n], "BYTES"),
    }
    v1 = client.post("/v1/models/underwriting:predict", json={"inputs": columns}).get_json()
    assert [json.loads(d) for d in outputs["decision"]["data"]] == v1["outputs"]["decision"]
    flat = [p for row in v1["outputs"]["probabilities"] for p in row]
    assert outputs["probabilities"]["data"] == flat
    assert outputs["risk_class"]["data"] == v1["outputs"]["risk_class"]
    assert outputs["max_coverage"]["data"] == v1["outputs"]["max_coverage"]


@pytest.mark.parametrize("name", ["risk_class", "max_coverage"])
def test_each_model_alone_and_by_version(
    client: Any, request_body: dict[str, Any], name: str
) -> None:
    for url in (INFER.format(name), f"/v2/models/{name}/versions/1/infer"):
        response = client.post(url, json=request_body)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["model_version"] == "1"
        assert [o["name"] for o in body["outputs"]] == OUTPUTS[name]
        # No `id` sent: the request id stands in for it (as a generated one does in MLServer).
        assert body["id"] == body["parameters"]["request_id"] == response.headers["X-Request-ID"]


def test_requested_outputs_only(client: Any, request_body: dict[str, Any]) -> None:
    request_body["outputs"] = [{"name": "risk_class", "parameters": {"binary_data": False}}]
    body = infer(client, request_body, content_type="application/json").get_json()
    assert [o["name"] for o in body["outputs"]] == ["risk_class"]
    assert set(body["outputs"][0]["data"]) <= set(CLASS_NAMES)


def test_fp32_numbers_and_a_body_without_content_type_are_accepted(
    client: Any, request_body: dict[str, Any]
) -> None:
    tensor(request_body, "height_cm")["datatype"] = "FP32"
    response = infer(client, request_body)  # tritonclient sends no Content-Type
    assert response.status_code == 200, response.get_json()


def _set(name: str, key: str, value: Any) -> Any:
    def change(body: dict[str, Any]) -> None:
        tensor(body, name)[key] = value

    return change


def _drop(name: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        body["inputs"] = [t for t in body["inputs"] if t["name"] != name]

    return change


def _add(extra: dict[str, Any]) -> Any:
    def change(body: dict[str, Any]) -> None:
        n = len(body["inputs"][0]["data"])
        body["inputs"].append(extra | {"shape": [n], "data": ["x"] * n})

    return change


def _lengthen(name: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        t = tensor(body, name)
        t["data"] = t["data"] + t["data"][:1]
        t["shape"] = [len(t["data"])]

    return change


def _value(name: str, value: Any) -> Any:
    def change(body: dict[str, Any]) -> None:
        tensor(body, name)["data"][1] = value

    return change


INVALID = [
    ("wrong datatype", _set("age", "datatype", "FP64"), "age", "INT64"),
    ("unknown datatype", _set("sex", "datatype", "STRING"), "sex", "BYTES"),
    ("2-D shape", _set("age", "shape", [4, 1]), "age", "Shape must be [N]"),
    ("shape and data disagree", _set("bp_treatment", "shape", [3]), "bp_treatment", "3 values"),
    ("nested data", _set("age", "data", [[40], [41], [42], [43]]), "age", "integer"),
    ("missing input", _drop("hba1c"), "hba1c", "Missing data"),
    ("unknown input", _add({"name": "shoe_size", "datatype": "INT64"}), "shoe_size", "Unknown"),
    ("prohibited input", _add({"name": "race", "datatype": "BYTES"}), "race", "protected"),
    ("unequal lengths", _lengthen("net_worth"), "net_worth", "differ in length"),
    ("value out of range", _value("age", 200), "age", "less than or equal to"),
    ("string for an integer", _value("age", "42"), "age", "Not a valid integer"),
    ("integer for a boolean", _value("bp_treatment", 1), "bp_treatment", "Not a valid boolean"),
    ("unknown category", _value("sex", "f"), "sex", "Must be one of"),
    ("shape not a list", _set("age", "shape", 4), "age", "Not a valid list"),
    ("input without a name", _set("age", "name", None), "inputs[0]", "null"),
]


@pytest.mark.parametrize(
    ("case", "change", "named", "reason"), INVALID, ids=[c[0] for c in INVALID]
)
def test_invalid_inputs_are_400_naming_the_input(
    client: Any, request_body: dict[str, Any], case: str, change: Any, named: str, reason: str
) -> None:
    change(request_body)
    response = infer(client, request_body, content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"error", "details"}
    assert named in body["error"], body
    assert reason in json.dumps(body), body


def test_value_errors_are_the_tf_serving_routes_own(
    client: Any, columns: dict[str, list[Any]], request_body: dict[str, Any]
) -> None:
    bad = copy.deepcopy(columns)
    bad["age"][0], bad["sex"][2], bad["hdl_cholesterol"][3] = 17, "other", float("1e9")
    for name, values in bad.items():
        tensor(request_body, name)["data"] = values
    v2 = infer(client, request_body, content_type="application/json").get_json()
    v1 = client.post("/v1/models/underwriting:predict", json={"inputs": bad}).get_json()
    assert v2 == v1  # one validation path: same summary, same details


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([], "JSON object"),
        ({"inputs": {}}, "Not a valid list"),
        ({"inputs": []}, "'inputs' is empty"),
        ({"inputs": [], "extra": 1}, "extra"),
        ({"id": 7, "inputs": []}, "id"),
        ({"inputs": [{"name": "age", "datatype": "INT64", "shape": [1]}]}, "data"),
    ],
)
def test_malformed_envelopes_are_400(client: Any, payload: Any, fragment: str) -> None:
    response = infer(client, payload, content_type="application/json")
    assert response.status_code == 400
    assert fragment in json.dumps(response.get_json())


def test_unknown_output_is_400(client: Any, request_body: dict[str, Any]) -> None:
    request_body["outputs"] = [{"name": "max_coverage"}]
    response = client.post(INFER.format("risk_class"), json=request_body)
    assert response.status_code == 400
    assert "max_coverage" in response.get_json()["error"]


def test_binary_tensor_data_is_refused_clearly(client: Any, request_body: dict[str, Any]) -> None:
    headers = {"Inference-Header-Content-Length": "10"}
    response = infer(client, request_body, headers=headers)
    assert response.status_code == 400
    assert "binary_data=False" in response.get_json()["error"]


def test_a_binary_data_size_parameter_is_refused_naming_the_input(
    client: Any, features: list[dict[str, Any]]
) -> None:
    """The values would follow the JSON in a binary body, which the service does not read:
    answering from `data` would decide on values the client did not mean."""
    request_body = v2_request(applicant_columns(rows=2, seed=11), features)
    tensor = request_body["inputs"][0]
    tensor["parameters"] = {"binary_data_size": 8}
    response = infer(client, request_body)
    assert response.status_code == 400
    body = response.get_json()
    assert "binary_data_size" in body["error"] and tensor["name"] in body["error"]
    # Binary outputs are answered as JSON values, which tritonclient reads: accepted.
    del tensor["parameters"]
    request_body["parameters"] = {"binary_data_output": True}
    assert infer(client, request_body).status_code == 200


@pytest.mark.parametrize(
    ("url", "kwargs", "status"),
    [
        (INFER.format("nope"), {}, 404),
        ("/v2/models/underwriting/versions/1/infer", {}, 404),
        ("/v2/models/risk_class/versions/3/infer", {}, 404),
        (INFER.format("underwriting"), {"content_type": "text/plain"}, 415),
    ],
)
def test_protocol_errors(
    client: Any, request_body: dict[str, Any], url: str, kwargs: dict[str, Any], status: int
) -> None:
    response = client.post(url, data=json.dumps(request_body), **kwargs)
    assert response.status_code == status
    assert set(response.get_json()) == {"error", "details"}


def test_too_many_records_is_400(client: Any, features: list[dict[str, Any]]) -> None:
    many = applicant_columns(rows=TEST_MAX_RECORDS + 1, seed=3)
    response = infer(client, v2_request(many, features), content_type="application/json")
    assert response.status_code == 400


def test_a_compressed_body_without_content_type_is_refused_by_name(
    client: Any, request_body: dict[str, Any]
) -> None:
    """tritonclient's compression sends gzip and no Content-Type: 415, not "malformed"."""
    import gzip

    body = gzip.compress(json.dumps(request_body).encode())
    response = client.post(
        INFER.format("underwriting"), data=body, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 415
    assert response.get_json()["details"] == {"content_encoding": "gzip"}


def test_thousands_of_input_tensors_are_refused_before_any_check(
    client: Any, request_body: dict[str, Any]
) -> None:
    flood = [
        {"name": f"x{i}", "datatype": "INT64", "shape": [1], "data": [i]} for i in range(1_000)
    ]
    response = infer(client, request_body | {"inputs": request_body["inputs"] + flood})
    assert response.status_code == 400 and len(response.get_data()) < 1_000
    assert "input tensors, at most" in response.get_json()["error"]
