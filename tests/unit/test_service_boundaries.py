"""Boundaries: the service imports nothing from training; the gunicorn master stays light."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO

SERVICE_DIR = REPO / "service"


def imported_modules(path: Path) -> set[str]:
    """Return the top-level names of every module a source file imports."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(SERVICE_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_the_service_imports_nothing_from_training(path: Path) -> None:
    assert "training" not in imported_modules(path)


def test_the_gunicorn_master_never_imports_tensorflow_or_the_app(tmp_path: Path) -> None:
    script = (
        "import sys, service.gunicorn_config; "
        "print(sorted(m for m in ('tensorflow', 'flask', 'service.app') if m in sys.modules))"
    )
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_gunicorn_hook_reads_the_store_where_the_app_puts_it() -> None:
    """gunicorn_config cannot import the app (it loads Flask), so it names the key itself.

    Read as text: importing gunicorn_config sets PROMETHEUS_MULTIPROC_DIR for the process.
    """
    from service.app import STORE_KEY

    source = (REPO / "service" / "gunicorn_config.py").read_text()
    assert f'STORE_KEY = "{STORE_KEY}"' in source
