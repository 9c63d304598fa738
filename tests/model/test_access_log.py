"""Access logs: one JSON line per request on stdout, request ids, and nothing sensitive."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from api_support import API_KEY, AUTH, app_over, v2_request
from service_support import applicant_columns, columns_to_rows, declared_features

FIELDS = {
    "timestamp",
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "records",
    "model_versions",
    "client",
}


def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Return the JSON access-log lines written to stdout since the last call."""
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def columns() -> dict[str, list[Any]]:
    return applicant_columns(rows=3, seed=8)


def test_one_line_per_request_with_every_field(
    client: Any, capsys: pytest.CaptureFixture[str], columns: dict[str, list[Any]]
) -> None:
    access_lines(capsys)
    client.get("/healthz")
    client.post("/v1/models/underwriting:predict", json={"instances": columns_to_rows(columns)})
    client.get("/v1/models/nope")
    lines = access_lines(capsys)
    assert [(e["method"], e["route"], e["status"]) for e in lines] == [
        ("GET", "/healthz", 200),
        ("POST", "/v1/models/<model:name>:predict", 200),
        ("GET", "/v1/models/<model:name>", 404),
    ]
    for entry in lines:
        assert set(entry) == FIELDS
        assert entry["timestamp"].endswith("+00:00") and "T" in entry["timestamp"]
        assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
        assert entry["client"] == "127.0.0.1"
    assert (lines[0]["records"], lines[0]["model_versions"]) == (0, {})
    assert lines[1]["records"] == 3
    assert lines[1]["model_versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }


def test_v2_predictions_log_records_and_versions(
    client: Any,
    capsys: pytest.CaptureFixture[str],
    columns: dict[str, list[Any]],
    service_models_dir: Path,
) -> None:
    body = v2_request(columns, declared_features(service_models_dir))
    access_lines(capsys)
    assert client.post("/v2/models/risk_class/infer", json=body).status_code == 200
    (entry,) = access_lines(capsys)
    assert entry["route"] == "/v2/models/<model:name>/infer"
    assert (entry["records"], entry["model_versions"]) == (3, {"risk_class": "1"})


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-7f3a.b_c:d", True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("has spaces in it", False),
        ("x" * 200, False),
        ("", False),
    ],
)
def test_request_id_is_honoured_or_generated_and_echoed(
    client: Any, capsys: pytest.CaptureFixture[str], sent: str, kept: bool
) -> None:
    access_lines(capsys)
    response = client.get("/readyz", headers={"X-Request-ID": sent} if sent else {})
    echoed = response.headers["X-Request-ID"]
    (entry,) = access_lines(capsys)
    assert entry["request_id"] == echoed
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent and len(echoed) == 32 and int(echoed, 16) >= 0


def test_ids_differ_between_requests(client: Any) -> None:
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_never_logs_values_or_keys(app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    keyed = app_over(app, api_keys=API_KEY).test_client()
    record = columns_to_rows(applicant_columns(rows=1, seed=2))[0]
    record |= {"annual_income": 123456.789, "existing_coverage": 98765.4321}
    access_lines(capsys)
    keyed.post("/v1/models/underwriting:predict", json={"instances": [record]}, headers=AUTH)
    keyed.post("/v1/models/underwriting:predict?age=61", json={"instances": [record | {"age": 3}]})
    keyed.get("/v1/models/risk_class", headers={"Authorization": "Bearer wrong-key-value"})
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [e["status"] for e in lines] == [200, 401, 401]
    for secret in ("123456.789", "98765.4321", API_KEY, "wrong-key-value", "age=61"):
        assert secret not in out


def test_an_unexpected_error_is_logged_with_the_request_id(
    app: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = app_over(app)

    @broken.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput")

    access_lines(capsys)
    with caplog.at_level(logging.ERROR, logger="service.http.errors"):
        response = broken.test_client().get("/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "trace-500"
    (record,) = [r for r in caplog.records if r.name == "service.http.errors"]
    assert "trace-500" in record.getMessage() and record.exc_info is not None
    (entry,) = access_lines(capsys)
    assert (entry["request_id"], entry["status"]) == ("trace-500", 500)


def test_the_client_address_is_forwarded_only_by_the_front(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over TCP (a peer address) X-Forwarded-For is the client's claim and ignored; over the
    front's Unix socket (no peer address) it is nginx's, and names the client."""
    forged = {"X-Forwarded-For": "203.0.113.7"}
    access_lines(capsys)
    client.get("/healthz", headers=forged)
    client.get("/healthz", headers=forged, environ_overrides={"REMOTE_ADDR": ""})
    tcp, unix_socket = access_lines(capsys)
    assert tcp["client"] == "127.0.0.1"
    assert unix_socket["client"] == "203.0.113.7"
