"""The error contract: every failure, on every route, is `{"error": ..., "details": {...}}`."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from gunicorn.http.errors import InvalidChunkSize
from prometheus_client import REGISTRY
from service_support import (
    TEST_MAX_BODY_BYTES,
    TEST_MAX_RECORDS,
    applicant_columns,
    columns_to_rows,
)

PREDICT = "/v1/models/underwriting:predict"
JSON = "application/json"


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    return columns_to_rows(applicant_columns(rows=1, seed=5))[0]


def assert_envelope(response: Any, status: int) -> dict[str, Any]:
    """Check the status and the envelope; return the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == JSON
    body = response.get_json()
    assert set(body) == {"error", "details"}
    assert isinstance(body["error"], str) and body["error"] and "\n" not in body["error"]
    assert isinstance(body["details"], dict)
    return dict(body)


Request = Callable[[Any, dict[str, Any]], Any]
ERROR_CASES: list[tuple[int, str, Request, str]] = [
    (400, "malformed JSON", lambda c, r: c.post(PREDICT, data="{", content_type=JSON), "Malformed"),
    (
        400,
        "NaN literal",
        lambda c, r: c.post(PREDICT, data='{"instances": [NaN]}', content_type=JSON),
        "Malformed",
    ),
    (400, "neither format", lambda c, r: c.post(PREDICT, json={}), "must wrap records"),
    (400, "a bare record", lambda c, r: c.post(PREDICT, json=r), "must wrap records"),
    (
        400,
        "a repeated key",
        lambda c, r: c.post(PREDICT, data='{"instances": [], "instances": []}', content_type=JSON),
        "more than once",
    ),
    (
        400,
        "both formats",
        lambda c, r: c.post(PREDICT, json={"instances": [r], "inputs": {}}),
        "exactly one",
    ),
    (400, "body not an object", lambda c, r: c.post(PREDICT, json=[r]), "JSON object"),
    (400, "empty instances", lambda c, r: c.post(PREDICT, json={"instances": []}), "non-empty"),
    (400, "instances not a list", lambda c, r: c.post(PREDICT, json={"instances": r}), "non-empty"),
    (400, "inputs not an object", lambda c, r: c.post(PREDICT, json={"inputs": [r]}), "columns"),
    (
        400,
        "other signature",
        lambda c, r: c.post(PREDICT, json={"signature_name": "x", "instances": [r]}),
        "envelope",
    ),
    (
        400,
        "unknown top-level key",
        lambda c, r: c.post(PREDICT, json={"instances": [r], "extra": 1}),
        "envelope",
    ),
    (
        400,
        "invalid record",
        lambda c, r: c.post(PREDICT, json={"instances": [r | {"age": "42"}]}),
        "age",
    ),
    (404, "unknown route", lambda c, r: c.get("/v2/nothing"), "Not Found"),
    (
        404,
        "unknown model",
        lambda c, r: c.post("/v1/models/nope:predict", json={"instances": [r]}),
        "nope",
    ),
    (
        404,
        "version not loaded",
        lambda c, r: c.post("/v1/models/risk_class/versions/7:predict", json={"instances": [r]}),
        "not loaded",
    ),
    (
        404,
        "composite version",
        lambda c, r: c.post("/v1/models/underwriting/versions/1:predict", json={"instances": [r]}),
        "no versions",
    ),
    (404, "status of unknown model", lambda c, r: c.get("/v1/models/nope"), "nope"),
    (
        404,
        "status of unknown version",
        lambda c, r: c.get("/v1/models/risk_class/versions/9"),
        "No version 9",
    ),
    (404, "metadata of unknown model", lambda c, r: c.get("/v1/models/nope/metadata"), "nope"),
    (405, "GET on predict", lambda c, r: c.get(PREDICT), "Method Not Allowed"),
    (405, "POST on healthz", lambda c, r: c.post("/healthz"), "Method Not Allowed"),
    (405, "DELETE a model", lambda c, r: c.delete("/v1/models/risk_class"), "Method Not Allowed"),
    (
        413,
        "body too large",
        lambda c, r: c.post(PREDICT, data=b" " * (TEST_MAX_BODY_BYTES + 1), content_type=JSON),
        "too large",
    ),
    (
        400,
        "too many rows",
        lambda c, r: c.post(PREDICT, json={"instances": [r] * (TEST_MAX_RECORDS + 1)}),
        "Too many records",
    ),
    (
        400,
        "too many column values",
        lambda c, r: c.post(
            PREDICT, json={"inputs": {k: [v] * (TEST_MAX_RECORDS + 1) for k, v in r.items()}}
        ),
        "Too many records",
    ),
    (
        415,
        "text/plain",
        lambda c, r: c.post(
            PREDICT, data=json.dumps({"instances": [r]}), content_type="text/plain"
        ),
        "Content-Type",
    ),
    (
        415,
        "form encoded (curl's default)",
        lambda c, r: c.post(PREDICT, data={"instances": "x"}),
        "Content-Type",
    ),
    (
        415,
        "no content type",
        lambda c, r: c.post(PREDICT, data=json.dumps({"instances": [r]})),
        "Content-Type",
    ),
    (
        415,
        "a real gzip body",
        lambda c, r: c.post(
            PREDICT,
            data=gzip.compress(json.dumps({"instances": [r]}).encode()),
            content_type=JSON,
            headers={"Content-Encoding": "gzip"},
        ),
        "Content-Encoding 'gzip' is not accepted",
    ),
    (
        415,
        "plain JSON declared as brotli",
        lambda c, r: c.post(
            PREDICT,
            data=json.dumps({"instances": [r]}),
            content_type=JSON,
            headers={"Content-Encoding": "br"},
        ),
        "Content-Encoding 'br' is not accepted",
    ),
    (
        415,
        "a charset other than UTF-8",
        lambda c, r: c.post(
            PREDICT,
            data=json.dumps({"instances": [r]}).encode("utf-16"),
            content_type="application/json; charset=utf-16",
        ),
        "JSON must be UTF-8, got charset=utf-16",
    ),
]


@pytest.mark.parametrize(
    ("status", "case", "send", "fragment"), ERROR_CASES, ids=[c[1] for c in ERROR_CASES]
)
def test_every_error_uses_the_envelope(
    client: Any, record: dict[str, Any], status: int, case: str, send: Request, fragment: str
) -> None:
    body = assert_envelope(send(client, record), status)
    assert fragment in body["error"]


def test_405_keeps_the_allow_header(client: Any) -> None:
    response = client.get(PREDICT)
    assert "POST" in response.headers["Allow"]
    assert "POST" in response.get_json()["details"]["allowed_methods"]


def _predictions_total() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "underwriting_predictions":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


def test_invalid_requests_never_reach_the_model(client: Any, record: dict[str, Any]) -> None:
    before = _predictions_total()
    for status, _, send, _ in ERROR_CASES:
        if status in (400, 413, 415):
            send(client, record)
    assert _predictions_total() == before
    client.post(PREDICT, json={"instances": [record]})
    assert _predictions_total() == before + 2  # one record, scored by both models


def test_a_chunked_body_over_the_limit_is_refused_as_too_large(client: Any) -> None:
    # gunicorn marks a chunked body as terminated input with no Content-Length.
    oversized = b'{"instances": [' + b" " * TEST_MAX_BODY_BYTES + b"]}"
    response = client.post(
        PREDICT,
        input_stream=io.BytesIO(oversized),
        content_type=JSON,
        environ_overrides={"wsgi.input_terminated": True},
    )
    body = assert_envelope(response, 413)
    assert body["details"]["max_body_bytes"] == TEST_MAX_BODY_BYTES
    assert f"at most {TEST_MAX_BODY_BYTES} bytes" in body["error"]


class _BrokenFraming(io.BytesIO):
    """A body stream that fails as gunicorn's chunked reader does on a malformed chunk size."""

    def read(self, size: int | None = -1) -> bytes:
        raise InvalidChunkSize(b"zz")

    def readinto(self, buffer: Any) -> int:
        raise InvalidChunkSize(b"zz")


@pytest.mark.parametrize("route", [PREDICT, "/v2/models/risk_class/infer"])
def test_a_body_whose_framing_breaks_mid_read_is_a_400_not_a_500(client: Any, route: str) -> None:
    response = client.post(
        route,
        input_stream=_BrokenFraming(),
        content_type=JSON if route == PREDICT else None,
        environ_overrides={"wsgi.input_terminated": True},
    )
    body = assert_envelope(response, 400)
    assert body["error"] == "The request body could not be read: its framing is broken"
    assert "zz" not in response.get_data(as_text=True)  # the client's bytes are not echoed
