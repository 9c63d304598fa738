"""/docs in a real browser under its Content-Security-Policy: every operation rendered, no errors.

Headless Chromium (Debian's `chromium`) loads the page from real gunicorn, runs Swagger UI and
dumps the resulting DOM; its console (stderr with logging on) must carry no message, since a
policy violation or a script error is reported there.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from service_support import make_repository, served
from tool_support import require_tool

HINT = "the Debian package `chromium` (make system-packages, as root)"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head")


@pytest.fixture(scope="module")
def base_url(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("docs-browser")
    with served(
        make_repository(tiny_models_dir, root / "models"),
        root / "gunicorn.log",
        env={"PROMETHEUS_MULTIPROC_DIR": str(root)},
    ) as (url, _):
        yield url


def test_swagger_ui_renders_every_operation_under_the_policy(base_url: str, tmp_path: Path) -> None:
    chromium = require_tool("chromium", HINT)
    page = requests.get(f"{base_url}/docs", timeout=30)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{base_url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    document = requests.get(f"{base_url}/openapi.json", timeout=30).json()
    operations = sum(m in METHODS for item in document["paths"].values() for m in item)
    rendered = result.stdout.count('class="opblock opblock-')
    assert rendered == operations > 20, (rendered, operations)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console


def test_every_response_carries_the_security_headers(base_url: str) -> None:
    for path, status in (
        ("/healthz", 200),
        ("/v1/models/nobody", 404),
        ("/metrics", 200),
        ("/docs/swagger-ui.css", 200),
        ("/openapi.json", 200),
    ):
        response = requests.get(f"{base_url}{path}", timeout=30)
        assert response.status_code == status, path
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        cached = path.startswith("/docs/")
        assert ("no-store" in headers["Cache-Control"]) is not cached, (path, headers)
    api = requests.get(f"{base_url}/healthz", timeout=30).headers["Content-Security-Policy"]
    assert api == "default-src 'none'; frame-ancestors 'none'"
