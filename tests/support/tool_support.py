"""Finding the real tools tests drive: a failure under CI when one is missing, a skip elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def small_file_system(size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on a fresh directory: a disk that fills (needs root)."""
    if os.geteuid() != 0:
        reason = "mounting a small file system needs root"
        if in_ci():
            pytest.fail(f"{reason}. CI is set, so the test fails instead of skipping.")
        pytest.skip(reason)
    mount_point = Path(tempfile.mkdtemp(prefix="small-fs-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


@contextmanager
def read_only_file_system(holding: dict[str, Path] | None = None) -> Iterator[Path]:
    """A file system mounted read-only on a fresh directory: nothing can be made in it, not even
    by root (whom permissions do not stop). `holding`: directories copied in first, by name."""
    with small_file_system("16m") as mount_point:
        for name, source in (holding or {}).items():
            shutil.copytree(source, mount_point / name)
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        yield mount_point


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte; return the filler to delete."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: nothing left to flush
        for block in (65_536, 512):  # then the last partial blocks too
            try:
                while handle.write(b"\0" * block):
                    pass
            except OSError:  # no space left
                pass
    return filler
