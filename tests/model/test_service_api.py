"""Every endpoint through the Flask test client, over real trained models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from service_support import applicant_columns, columns_to_rows

PREDICT = "/v1/models/{}:predict"
CLASS_NAMES = ["standard", "substandard", "decline"]


@pytest.fixture(scope="module")
def columns() -> dict[str, list[Any]]:
    return applicant_columns(rows=5, seed=11)


@pytest.fixture(scope="module")
def rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return columns_to_rows(columns)


def post(client: Any, url: str, payload: Any) -> Any:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def test_healthz_is_alive(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


def test_readyz_names_the_serving_versions(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "models": {
            "risk_class": {"risk_class": "1"},
            "max_coverage": {"max_coverage": "1"},
            "underwriting_policy": {"underwriting_policy": "1"},
            "underwriting": {"risk_class": "1", "max_coverage": "1", "underwriting_policy": "1"},
        },
    }


def test_underwriting_rows_give_one_prediction_per_applicant(
    client: Any, rows: list[dict[str, Any]]
) -> None:
    response = post(client, PREDICT.format("underwriting"), {"instances": rows})
    assert response.status_code == 200
    body = response.get_json()
    assert body["model_versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }
    assert len(body["predictions"]) == len(rows)
    for prediction in body["predictions"]:
        assert set(prediction) == {"risk_class", "probabilities", "max_coverage", "decision"}
        assert list(prediction["probabilities"]) == CLASS_NAMES
        assert sum(prediction["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        top = max(prediction["probabilities"], key=prediction["probabilities"].get)
        assert prediction["risk_class"] == top
        assert prediction["max_coverage"] >= 0


def test_columnar_form_gives_the_same_numbers_as_rows(
    client: Any, rows: list[dict[str, Any]], columns: dict[str, list[Any]]
) -> None:
    by_rows = post(client, PREDICT.format("underwriting"), {"instances": rows}).get_json()
    response = post(client, PREDICT.format("underwriting"), {"inputs": columns})
    assert response.status_code == 200
    outputs = response.get_json()["outputs"]
    assert set(outputs) == {"risk_class", "probabilities", "max_coverage", "decision"}
    expected = by_rows["predictions"]
    assert outputs["decision"] == [p["decision"] for p in expected]
    assert outputs["risk_class"] == [p["risk_class"] for p in expected]
    assert outputs["probabilities"] == [list(p["probabilities"].values()) for p in expected]
    assert outputs["max_coverage"] == [p["max_coverage"] for p in expected]


@pytest.mark.parametrize(
    ("name", "keys"),
    [("risk_class", {"risk_class", "probabilities"}), ("max_coverage", {"max_coverage"})],
)
def test_each_model_alone_and_by_loaded_version(
    client: Any, rows: list[dict[str, Any]], name: str, keys: set[str]
) -> None:
    for url in (PREDICT.format(name), f"/v1/models/{name}/versions/1:predict"):
        response = post(client, url, {"instances": rows})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["model_versions"] == {name: "1"}
        assert [set(p) for p in body["predictions"]] == [keys] * len(rows)


def test_a_single_model_agrees_with_the_composite(client: Any, rows: list[dict[str, Any]]) -> None:
    both = post(client, PREDICT.format("underwriting"), {"instances": rows}).get_json()
    alone = post(client, PREDICT.format("max_coverage"), {"instances": rows}).get_json()
    for combined, single in zip(both["predictions"], alone["predictions"], strict=True):
        assert combined["max_coverage"] == pytest.approx(single["max_coverage"], rel=1e-5)


def test_signature_name_serving_default_is_accepted(
    client: Any, rows: list[dict[str, Any]]
) -> None:
    payload = {"signature_name": "serving_default", "instances": rows[:1]}
    assert post(client, PREDICT.format("risk_class"), payload).status_code == 200


def test_status_has_tf_serving_shape(client: Any) -> None:
    response = client.get("/v1/models/risk_class")
    assert response.status_code == 200
    assert response.get_json() == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert client.get("/v1/models/risk_class/versions/1").status_code == 200


def test_composite_status_lists_each_component(client: Any) -> None:
    statuses = client.get("/v1/models/underwriting").get_json()["model_version_status"]
    assert [(s["model"], s["version"], s["state"]) for s in statuses] == [
        ("risk_class", "1", "AVAILABLE"),
        ("max_coverage", "1", "AVAILABLE"),
        ("underwriting_policy", "1", "AVAILABLE"),
    ]


def test_metadata_carries_the_declaration_exactly(client: Any, service_models_dir: Path) -> None:
    on_disk = json.loads((service_models_dir / "risk_class" / "1" / "metadata.json").read_text())
    response = client.get("/v1/models/risk_class/metadata")
    assert response.status_code == 200
    body = response.get_json()
    assert body["model_spec"] == {
        "name": "risk_class",
        "signature_name": "serving_default",
        "version": "1",
    }
    metadata = body["metadata"]
    assert metadata["features"] == on_disk["features"]
    assert metadata["class_names"] == on_disk["class_names"]
    assert metadata["outputs"] == on_disk["outputs"]
    assert metadata["metrics"] == {"risk_class": on_disk["metrics"]}
    assert metadata["versions"] == {"risk_class": "1"}
    assert metadata["prohibited_fields"] == on_disk["prohibited_fields"]
    assert metadata["models"]["risk_class"]["reads"] == on_disk["inputs"]


def test_metadata_says_the_risk_class_reads_no_money(client: Any) -> None:
    body = client.get("/v1/models/underwriting/metadata").get_json()["metadata"]
    roles = {f["name"]: f["role"] for f in body["features"]}
    money = {name for name, role in roles.items() if role == "financial"}
    assert money == {"annual_income", "net_worth", "existing_coverage"}
    assert not money & set(body["models"]["risk_class"]["reads"])
    assert money <= set(body["models"]["max_coverage"]["reads"])


def test_composite_metadata_describes_both_models(client: Any) -> None:
    body = client.get("/v1/models/underwriting/metadata").get_json()
    assert body["metadata"]["versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }
    assert [o["name"] for o in body["metadata"]["outputs"]] == ["probabilities", "max_coverage"]
    assert set(body["metadata"]["metrics"]) == {"risk_class", "max_coverage"}
    assert client.get("/v1/models/max_coverage/versions/1/metadata").status_code == 200


def test_metrics_endpoint_exposes_the_contract_metrics(
    client: Any, rows: list[dict[str, Any]]
) -> None:
    post(client, PREDICT.format("underwriting"), {"instances": rows})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    for name in (
        "underwriting_http_requests_total",
        "underwriting_http_request_duration_seconds_bucket",
        "underwriting_model_inference_duration_seconds_bucket",
        "underwriting_predictions_total",
        "underwriting_risk_class_predictions_total",
        "underwriting_max_coverage_dollars_bucket",
        "underwriting_request_records_bucket",
        "underwriting_model_info",
    ):
        assert name in text
    assert 'route="/v1/models/<model:name>:predict"' in text


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/v1/models/risk_class/versions/{}"),
        ("get", "/v1/models/risk_class/versions/{}/metadata"),
        ("post", "/v1/models/risk_class/versions/{}:predict"),
        ("get", "/v2/models/risk_class/versions/{}"),
        ("get", "/v2/models/risk_class/versions/{}/ready"),
        ("post", "/v2/models/risk_class/versions/{}/infer"),
    ],
)
def test_a_version_beyond_64_bits_is_a_clear_404(client: Any, method: str, url: str) -> None:
    version = 2**64
    response = getattr(client, method)(url.format(version), json={"inputs": [], "instances": []})
    assert response.status_code == 404, response.get_data(as_text=True)
    assert str(version) in response.get_json()["error"]
