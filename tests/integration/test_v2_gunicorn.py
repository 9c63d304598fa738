"""Real gunicorn with API keys from a file: a stock V2 client (tritonclient), auth, access logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from api_support import API_KEY, AUTH, OTHER_KEY
from service_support import (
    applicant_columns,
    declared_features,
    make_repository,
    served,
)
from tritonclient.utils import InferenceServerException

NUMPY = {"INT64": np.int64, "FP64": np.float64, "BOOL": np.bool_, "BYTES": np.object_}
OUTPUTS = ("probabilities", "risk_class", "max_coverage", "decision")


@dataclass
class Server:
    url: str
    host_port: str
    log: Path


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m service` (2 workers) whose keys come from a file, as a container secret would."""
    root = tmp_path_factory.mktemp("v2-gunicorn")
    models_dir = make_repository(tiny_models_dir, root / "models")
    keys = root / "api-keys"
    keys.write_text(f"{API_KEY}\n{OTHER_KEY}\n")
    log = root / "service.log"
    with served(models_dir, log, api_keys_file=str(keys)) as (url, _):
        yield Server(url, url.removeprefix("http://"), log)


@pytest.fixture(scope="module")
def columns() -> dict[str, list[Any]]:
    return applicant_columns(rows=6, seed=17)


@pytest.fixture
def client(server: Server) -> Iterator[Any]:
    with triton.InferenceServerClient(url=server.host_port) as stock:
        yield stock


def triton_inputs(metadata: dict[str, Any], columns: dict[str, list[Any]]) -> list[Any]:
    """Build one InferInput per input the model's V2 metadata lists, from numpy arrays."""
    inputs = []
    for spec in metadata["inputs"]:
        if spec.get("parameters", {}).get("optional"):
            continue  # a request field (the requested amount): none is sent here
        values: np.ndarray = np.array(columns[spec["name"]], dtype=NUMPY[spec["datatype"]])
        tensor = triton.InferInput(spec["name"], list(values.shape), spec["datatype"])
        tensor.set_data_from_numpy(values, binary_data=False)
        inputs.append(tensor)
    return inputs


def test_stock_triton_client_health_and_metadata(client: Any, service_models_dir: Path) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata()["name"] == "underwriting-model-service"
    assert client.is_model_ready("underwriting")
    assert client.is_model_ready("risk_class", model_version="1")
    assert not client.is_model_ready("risk_class", model_version="2")
    metadata = client.get_model_metadata("underwriting", headers=AUTH)
    features = declared_features(service_models_dir)
    assert [spec["name"] for spec in metadata["inputs"]] == [f["name"] for f in features] + [
        "requested_coverage"
    ]
    assert [spec["name"] for spec in metadata["outputs"]] == list(OUTPUTS)


def test_stock_triton_client_infers_what_the_tf_serving_route_predicts(
    client: Any, server: Server, columns: dict[str, list[Any]]
) -> None:
    metadata = client.get_model_metadata("underwriting", headers=AUTH)
    requested = [triton.InferRequestedOutput(name, binary_data=False) for name in OUTPUTS]
    result = client.infer(
        "underwriting",
        triton_inputs(metadata, columns),
        outputs=requested,
        request_id="triton-1",
        parameters={"note": "accepted"},
        headers=AUTH,
    )
    response = result.get_response()
    assert (response["id"], response["model_name"]) == ("triton-1", "underwriting")
    v1 = requests.post(
        f"{server.url}/v1/models/underwriting:predict",
        json={"inputs": columns},
        headers=AUTH,
        timeout=10,
    ).json()["outputs"]
    n = len(columns["age"])
    assert result.as_numpy("probabilities").shape == (n, 3)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), v1["probabilities"])
    assert result.as_numpy("risk_class").tolist() == v1["risk_class"]
    np.testing.assert_array_equal(result.as_numpy("max_coverage"), v1["max_coverage"])
    decisions = [json.loads(d) for d in result.as_numpy("decision").tolist()]
    assert decisions == v1["decision"]


def test_stock_triton_client_defaults_and_model_versions(
    client: Any, columns: dict[str, list[Any]]
) -> None:
    metadata = client.get_model_metadata("max_coverage", model_version="1", headers=AUTH)
    inputs = triton_inputs(metadata, columns)
    # No outputs named: the client asks for binary outputs, and reads the JSON ones it gets.
    result = client.infer("max_coverage", inputs, model_version="1", headers=AUTH)
    assert result.get_response()["model_version"] == "1"
    coverage = result.as_numpy("max_coverage")
    assert coverage.shape == (len(columns["age"]),) and (coverage >= 0).all()


def test_stock_triton_client_sees_auth_and_validation_errors(
    client: Any, columns: dict[str, list[Any]]
) -> None:
    metadata = client.get_model_metadata("risk_class", headers=AUTH)
    inputs = triton_inputs(metadata, columns)
    with pytest.raises(InferenceServerException) as missing:
        client.infer("risk_class", inputs)
    assert "API key" in str(missing.value)
    wrong = {"Authorization": "Bearer not-a-key"}
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("risk_class", headers=wrong)
    bad = dict(columns) | {"age": [float(a) for a in columns["age"]]}
    metadata["inputs"] = [
        spec | {"datatype": "FP64"} if spec["name"] == "age" else spec
        for spec in metadata["inputs"]
    ]
    with pytest.raises(InferenceServerException) as invalid:
        client.infer("risk_class", triton_inputs(metadata, bad), headers=AUTH)
    assert "'age'" in str(invalid.value) and "INT64" in str(invalid.value)


def test_auth_over_http(server: Server) -> None:
    response = requests.post(f"{server.url}/v1/models/underwriting:predict", json={}, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"error", "details"}
    key = {"Authorization": f"Bearer {OTHER_KEY}"}
    assert requests.get(f"{server.url}/v1/models/risk_class", headers=key, timeout=5).ok
    for open_route in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/v2/health/ready"):
        assert requests.get(f"{server.url}{open_route}", timeout=5).status_code == 200


def test_access_log_is_one_json_line_per_request(
    server: Server, columns: dict[str, list[Any]]
) -> None:
    marker = {"annual_income": [777777.125] * len(columns["age"])}
    sent = {"X-Request-ID": "e2e-trace-1"} | AUTH
    url = f"{server.url}/v1/models/risk_class:predict"
    response = requests.post(url, json={"inputs": columns | marker}, headers=sent, timeout=10)
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "e2e-trace-1"
    generated = requests.get(f"{server.url}/v2/health/live", timeout=5).headers["X-Request-ID"]
    text = server.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    by_id = {line["request_id"]: line for line in lines if "route" in line}  # not gunicorn's
    entry = by_id["e2e-trace-1"]
    assert entry["route"] == "/v1/models/<model:name>:predict"
    assert (entry["method"], entry["status"], entry["client"]) == ("POST", 200, "127.0.0.1")
    assert (entry["records"], entry["model_versions"]) == (len(columns["age"]), {"risk_class": "1"})
    assert entry["duration_ms"] > 0
    assert by_id[generated]["route"] == "/v2/health/live"
    assert "777777.125" not in text and API_KEY not in text and OTHER_KEY not in text
