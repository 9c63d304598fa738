"""API keys: bearer keys on prediction and metadata routes; health, metrics and docs stay open."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from api_support import API_KEY, AUTH, OTHER_KEY, app_over

from service.api_keys import KeyChecker, load_keys
from service.settings import Settings, SettingsError

PROTECTED = [
    ("POST", "/v1/models/underwriting:predict"),
    ("POST", "/v1/models/risk_class/versions/1:predict"),
    ("GET", "/v1/models/risk_class"),
    ("GET", "/v1/models/risk_class/versions/1"),
    ("GET", "/v1/models/underwriting/metadata"),
    ("GET", "/v1/models/risk_class/versions/1/metadata"),
    ("POST", "/v2/models/underwriting/infer"),
    ("POST", "/v2/models/max_coverage/versions/1/infer"),
    ("GET", "/v2/models/underwriting"),
    ("GET", "/v2/models/risk_class/versions/1"),
    ("GET", "/v1/decisions"),
    ("GET", "/v1/decisions/some-request"),
]
OPEN = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/swagger-ui.css",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/underwriting/ready",
    "/v2/models/risk_class/versions/1/ready",
]


@pytest.fixture(scope="module")
def keyed(app: Any) -> Any:
    return app_over(app, api_keys=f"{API_KEY}, {OTHER_KEY}").test_client()


def send(client: Any, method: str, url: str, headers: dict[str, str]) -> Any:
    return client.open(url, method=method, headers=headers, json={})


@pytest.mark.parametrize(("method", "url"), PROTECTED)
@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, 'Bearer realm="underwriting-model-service"'),
        ({"Authorization": "Bearer nope"}, 'error="invalid_token"'),
        ({"Authorization": f"Basic {API_KEY}"}, 'error="invalid_token"'),
        ({"Authorization": "Bearer "}, 'error="invalid_token"'),
        ({"Authorization": f"Bearer {API_KEY}x"}, 'error="invalid_token"'),
    ],
    ids=["missing", "wrong", "not bearer", "empty", "prefix of a key"],
)
def test_protected_routes_need_a_valid_key(
    keyed: Any, method: str, url: str, headers: dict[str, str], challenge: str
) -> None:
    response = send(keyed, method, url, headers)
    assert response.status_code == 401
    assert set(response.get_json()) == {"error", "details"}
    assert "API key" in response.get_json()["error"]
    assert challenge in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("method", "url"), PROTECTED)
@pytest.mark.parametrize("key", [API_KEY, OTHER_KEY])
def test_each_configured_key_opens_them(keyed: Any, method: str, url: str, key: str) -> None:
    response = send(keyed, method, url, {"Authorization": f"bearer {key}"})
    assert response.status_code != 401  # 400 for the empty bodies, 200 for the reads


@pytest.mark.parametrize("url", OPEN)
def test_health_metrics_and_docs_stay_open(keyed: Any, url: str) -> None:
    assert keyed.get(url).status_code == 200


def test_unknown_routes_are_404_not_401(keyed: Any) -> None:
    assert keyed.get("/v1/nothing").status_code == 404


def test_keys_file_adds_to_the_variable(tmp_path: Path) -> None:
    secret = tmp_path / "keys"
    secret.write_text("file-key-1\nfile-key-2, file-key-1\n\n")
    settings = Settings.from_env(
        {"SERVICE_API_KEYS": "env-key", "SERVICE_API_KEYS_FILE": str(secret)}
    )
    assert load_keys(settings) == ("env-key", "file-key-1", "file-key-2")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVICE_API_KEYS", " , "),
        ("SERVICE_API_KEYS_FILE", "/nonexistent/keys"),
        ("SERVICE_API_KEYS_FILE", "EMPTY"),
    ],
)
def test_configured_but_keyless_fails_fast(tmp_path: Path, variable: str, value: str) -> None:
    if value == "EMPTY":
        value = str(tmp_path / "empty")
        Path(value).write_text("\n ,\n")
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert variable in str(raised.value)


def test_keys_stay_out_of_the_settings_repr() -> None:
    assert API_KEY not in repr(Settings(api_keys=API_KEY))


def test_key_checker_compares_whole_keys() -> None:
    checker = KeyChecker([API_KEY, OTHER_KEY])
    assert checker.accepts(API_KEY) and checker.accepts(OTHER_KEY)
    assert not any(checker.accepts(k) for k in ("", API_KEY[:-1], API_KEY + " ", "é" + API_KEY))


def test_open_service_warns_at_start_and_serves_without_keys(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="service.http.auth"):
        open_app = app_over(app)
    assert "no API keys configured" in caplog.text
    assert open_app.test_client().get("/v1/models/risk_class").status_code == 200


def test_keyed_service_does_not_warn_or_log_keys(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = app_over(app, api_keys=API_KEY).test_client()
        client.get("/v1/models/risk_class", headers=AUTH)
        client.get("/v1/models/risk_class", headers={"Authorization": "Bearer guess-123"})
    assert "no API keys configured" not in caplog.text
    assert API_KEY not in caplog.text and "guess-123" not in caplog.text
