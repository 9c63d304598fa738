"""Every prediction and explanation body names its request id, the one X-Request-ID carries:
the key a request's decisions are recorded and found by, replays included."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from api_support import v2_request
from service_support import applicant_columns, columns_to_rows, declared_features

COLUMNS = applicant_columns(rows=3, seed=41)
ROWS = columns_to_rows(COLUMNS)


def fresh_id(label: str) -> str:
    """A request id no other test of the session sends (the decision store is shared)."""
    return f"{label}-{os.urandom(6).hex()}"


@pytest.fixture(scope="module")
def v2_body(service_models_dir: Path) -> dict[str, Any]:
    return v2_request(COLUMNS, declared_features(service_models_dir))


def _sent(client: Any, url: str, body: dict[str, Any], request_id: str | None) -> Any:
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def _request_id_in(url: str, body: dict[str, Any]) -> str:
    return str(body["parameters"]["request_id"] if url.startswith("/v2/") else body["request_id"])


DECIDING = [
    pytest.param("/v1/models/underwriting:predict", {"instances": ROWS}, id="v1 rows"),
    pytest.param("/v1/models/underwriting:predict", {"inputs": COLUMNS}, id="v1 columns"),
    pytest.param("/v2/models/underwriting/infer", None, id="v2"),
]
ROUTES = [
    *DECIDING,
    pytest.param("/v1/models/underwriting:explain", {"instances": ROWS}, id="v1 explain"),
    pytest.param("/v1/models/risk_class:predict", {"instances": ROWS}, id="v1 one model"),
]


@pytest.mark.parametrize("url, body", ROUTES)
@pytest.mark.parametrize("sent", [True, False], ids=["id sent", "no id sent"])
def test_the_body_names_the_request_id_of_its_header(
    client: Any, v2_body: dict[str, Any], url: str, body: dict[str, Any] | None, sent: bool
) -> None:
    request_id = fresh_id("body") if sent else None
    response = _sent(client, url, body or v2_body, request_id)
    named = _request_id_in(url, response.get_json())
    assert named == response.headers["X-Request-ID"]
    if request_id is not None:
        assert named == request_id


@pytest.mark.parametrize("url, body", DECIDING)
def test_a_replay_names_the_request_id_it_was_recorded_under(
    client: Any, v2_body: dict[str, Any], url: str, body: dict[str, Any] | None
) -> None:
    request_id = fresh_id("replayed")
    first = _sent(client, url, body or v2_body, request_id)
    again = _sent(client, url, body or v2_body, request_id)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _request_id_in(url, again.get_json()) == request_id == again.headers["X-Request-ID"]
    recorded = client.get(f"/v1/decisions/{request_id}").get_json()["decisions"]
    assert [r["request_id"] for r in recorded] == [request_id] * len(ROWS)


def test_the_v2_id_is_the_clients_label_and_the_request_id_keys_the_record(
    client: Any, v2_body: dict[str, Any]
) -> None:
    """V2's `id` is echoed as the protocol asks; it is not the key of the record (clients reuse
    labels such as "1" for every request, which a key would refuse as a conflict)."""
    request_id = fresh_id("keyed")
    labelled = v2_body | {"id": "1"}
    body = _sent(client, "/v2/models/underwriting/infer", labelled, request_id).get_json()
    assert body["id"] == "1" and body["parameters"]["request_id"] == request_id
    # Another request (its first applicant alone) under the same label is decided, not refused.
    one = [t | {"data": t["data"][:1], "shape": [1]} for t in labelled["inputs"]]
    second = _sent(client, "/v2/models/underwriting/infer", labelled | {"inputs": one}, None)
    assert second.get_json()["id"] == "1"
    assert second.get_json()["parameters"]["request_id"] != request_id
    assert client.get(f"/v1/decisions/{request_id}").status_code == 200
