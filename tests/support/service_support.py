"""Helpers for the service tests: model repositories to copy and tamper with, valid records."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import requests
from paths import REPO

from contract.checksums import metadata_digest
from policy.publish import DEFAULT_SOURCE
from policy.publish import publish as publish_policy

MODEL_NAMES = ("risk_class", "max_coverage")
# The limits of the test app (conftest's `app`), small so that 413s are cheap to provoke.
TEST_MAX_RECORDS = 100
TEST_MAX_BODY_BYTES = 256 * 1024


def publish_version(source: Path, models_dir: Path, name: str, version: int) -> Path:
    """Publish a copy of `source` as `name/version`, atomically (staged, then renamed)."""
    staging = models_dir / name / f".tmp-{version}-test"
    shutil.copytree(source, staging)
    metadata_path = staging / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["version"] = version
    metadata["metadata_sha256"] = metadata_digest(metadata)
    metadata_path.write_text(json.dumps(metadata, indent=2))
    target = models_dir / name / str(version)
    os.rename(staging, target)
    return target


def make_repository(
    trained: Path, models_dir: Path, versions: tuple[int, ...] = (1,), policy: bool = True
) -> Path:
    """Fill `models_dir` with the trained version 1 of each model, published as `versions`, and
    the shipped policy (unless `policy` is False: a staging or challenger repository)."""
    for name in MODEL_NAMES:
        (models_dir / name).mkdir(parents=True, exist_ok=True)
        for version in versions:
            publish_version(trained / name / "1", models_dir, name, version)
    if policy:
        publish_policy(DEFAULT_SOURCE, models_dir)
    return models_dir


def tamper(version_dir: Path) -> None:
    """Flip bytes of the variables file without updating metadata.json (checksum mismatch)."""
    data = next((version_dir / "saved_model" / "variables").glob("variables.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))


def declared_features(models_dir: Path, name: str = "risk_class") -> list[dict[str, Any]]:
    """Return the feature declaration of a model's version 1 as written in metadata.json."""
    metadata = json.loads((models_dir / name / "1" / "metadata.json").read_text())
    return list(metadata["features"])


def applicant_columns(rows: int, seed: int) -> dict[str, list[Any]]:
    """Return realistic applicant columns from the training side's synthetic generator."""
    from training.synthetic import generate

    sample = generate(rows, seed)
    return {name: np.asarray(values).tolist() for name, values in sample.features.items()}


def columns_to_rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Transpose columns into records."""
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def free_port() -> int:
    """Return a TCP port that is free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_master(launcher: int) -> int:
    """The gunicorn master of a `python -m service`: its child beside nginx (the launcher itself
    when it became gunicorn, with SERVICE_FRONT=none)."""
    for pid in [launcher, *children(launcher)]:
        if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError(f"no gunicorn master at or under process {launcher}")


def children(pid: int) -> list[int]:
    """A process's children (a gunicorn master's: its workers)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def gunicorn_workers(launcher: int) -> list[int]:
    """The worker processes of a `python -m service`."""
    return children(gunicorn_master(launcher))


def make_run(make: str = "make") -> list[str]:
    """`make run` from the checkout's Makefile, with the virtualenv running the tests standing
    in for .venv; `-o`: it is up to date, so `make run` must not reinstall it in a test."""
    venv = Path(sys.prefix)
    return [
        make,
        "-s",
        "-f",
        str(REPO / "Makefile"),
        f"VENV={venv}",
        "-o",
        f"{venv}/bin/activate",
        "run",
    ]


def start_service(
    models_dir: Path, port: int, log: Path, env: dict[str, str] | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    """Start `python -m service` (nginx in front of gunicorn) with the given SERVICE_* settings.

    `env` adds or overrides environment variables last (e.g. PROMETHEUS_MULTIPROC_DIR).
    """
    base = os.environ | {
        "SERVICE_HOST": "127.0.0.1",
        "SERVICE_PORT": str(port),
        "SERVICE_GRPC_PORT": str(free_port()),  # as `make run`: REST and gRPC
        "SERVICE_MODELS_DIR": str(models_dir),
        "SERVICE_WORKERS": "2",
    }
    base |= {f"SERVICE_{key.upper()}": value for key, value in settings.items()}
    base.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return launch([sys.executable, "-m", "service"], base | (env or {}), log)


@contextmanager
def served(
    models_dir: Path, log: Path, env: dict[str, str] | None = None, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the service on a free loopback port until the block ends; it must then exit cleanly."""
    port = free_port()
    process = start_service(models_dir, port, log, env=env, **settings)
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(base_url, timeout=120.0)
        except TimeoutError as exc:
            tail = log.read_text(errors="replace")[-4000:]
            raise AssertionError(f"{exc}; log:\n{tail}") from None
        yield base_url, process
    finally:
        assert stop_service(process) == 0, log.read_text(errors="replace")[-3000:]


def launch(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = REPO
) -> subprocess.Popen[bytes]:
    """Start a server (by default in the checkout) in its own process group (see stop_service)."""
    with log.open("ab") as sink:  # a file, not a pipe: a full pipe would block gunicorn
        return subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: workers can be killed with it
        )


def wait_ready(base_url: str, timeout: float = 60.0, streak: int = 10) -> float:
    """Wait until `streak` consecutive /readyz answers are 200 (every worker is ready)."""
    start = time.monotonic()
    ok = 0
    while ok < streak:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{base_url} not ready after {timeout} s")
        try:
            ok = ok + 1 if requests.get(f"{base_url}/readyz", timeout=5).status_code == 200 else 0
        except requests.RequestException:  # refused, or queued while workers import TensorFlow
            ok = 0
        if ok < streak:
            time.sleep(0.05)
    return time.monotonic() - start


def stop_service(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Terminate a service we started (SIGTERM, then SIGKILL) and return its exit code.

    Whatever happens, nothing of its process group (gunicorn's workers) outlives this call.
    """
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
    finally:
        _kill_group(process.pid)


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group started by `launch` (nothing, normally)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
