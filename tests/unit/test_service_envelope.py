"""The error envelope without any model: an app over an empty repository, no TensorFlow."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PREDICT = "/v1/models/underwriting:predict"


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The service over a repository with no model: it lives, answers, and is not ready."""
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    models_dir = tmp_path_factory.mktemp("no-models")
    app = create_app(Settings(models_dir=models_dir, reload_interval_seconds=3600))
    store = app.extensions[STORE_KEY]
    assert store.wait_scanned(30)
    yield app
    store.stop()


def assert_envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "details"} and "\n" not in body["error"]
    return dict(body)


def test_without_models_the_process_lives_and_says_why_not_ready(empty_app: Any) -> None:
    client = empty_app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = assert_envelope(client.get("/readyz"), 503)
    assert "no version found" in ready["error"]
    store_dir = str(empty_app.extensions["model_store"].models_dir)
    assert store_dir not in client.get("/readyz").get_data(as_text=True)  # no paths to clients
    names = {"risk_class", "max_coverage", "underwriting_policy", "underwriting"}
    assert set(ready["details"]["models"]) == names
    for name in ("underwriting", "risk_class", "max_coverage"):
        response = client.post(f"/v1/models/{name}:predict", json={"instances": [{}]})
        assert "no version found" in assert_envelope(response, 503)["error"]
    assert_envelope(client.get("/v1/models/risk_class/metadata"), 503)
    assert_envelope(client.get("/v2/health/ready"), 503)
    assert_envelope(client.get("/openapi.json"), 503)


def test_an_app_without_models_never_imports_tensorflow(tmp_path: Path) -> None:
    # In a fresh process: this one may have TensorFlow from other tiers' collection.
    script = (
        "import sys; from service.app import create_app; from service.settings import Settings; "
        f"app = create_app(Settings(models_dir={str(tmp_path)!r})); "
        "app.extensions['model_store'].wait_scanned(30); "
        "app.test_client().post('/v1/models/underwriting:predict', json={'instances': [{}]}); "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"  # after the access-log line


@pytest.mark.parametrize(
    ("method", "path", "status", "fragment"),
    [
        ("GET", "/nowhere", 404, "Not Found"),
        ("GET", "/v1/models/bogus:predict/extra", 404, "Not Found"),
        ("POST", "/v1/models/bogus:predict", 404, "Unknown model 'bogus'"),
        ("GET", PREDICT, 405, "Method Not Allowed"),
        ("DELETE", "/healthz", 405, "Method Not Allowed"),
        ("GET", "/docs/nothing.js", 404, "No asset"),
    ],
)
def test_routing_errors_use_the_envelope(
    empty_app: Any, method: str, path: str, status: int, fragment: str
) -> None:
    body = assert_envelope(empty_app.test_client().open(path, method=method), status)
    assert fragment in body["error"]


def test_405_lists_the_allowed_methods_in_a_stable_order(empty_app: Any) -> None:
    response = empty_app.test_client().get(PREDICT)
    body = assert_envelope(response, 405)
    assert body["details"]["allowed_methods"] == ["OPTIONS", "POST"]
    assert response.headers["Allow"] == "OPTIONS, POST"


def test_unexpected_exception_is_a_logged_500_in_the_envelope(
    empty_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    broken = create_app(Settings(models_dir=Path("unused")), store=empty_app.extensions[STORE_KEY])

    @broken.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR, logger="service.http.errors"):
        body = assert_envelope(broken.test_client().get("/boom"), 500)
    assert "secret" not in json.dumps(body)
    assert "secret internals" in caplog.text
