"""Finding the real tools tests drive: a failure under CI when one is missing, a skip elsewhere."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def in_ci() -> bool:
    """Whether the CI variable is set to something truthy (CI runs set CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tool(name: str, hint: str) -> str:
    """Path of an executable: the virtualenv's first (pip-installed tools), then PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} not found; install it from {hint}"
    if in_ci():
        pytest.fail(f"{reason}. CI is set, so a missing tool fails the test.")
    pytest.skip(reason)


def require_nginx() -> str:
    """nginx, where the service finds it (PATH, then Debian's /usr/sbin/nginx)."""
    from service.settings import nginx_binary

    found = nginx_binary()
    if found is not None:
        return str(found)
    reason = "nginx not found; install it from Debian's nginx package (make system-packages)"
    if in_ci():
        pytest.fail(f"{reason}. CI is set, so a missing tool fails the test.")
    pytest.skip(reason)
