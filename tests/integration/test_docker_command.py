"""The image's command, run locally (there is no Docker engine here): what `docker run` would run.

The final stage's exec-form ENTRYPOINT + CMD and its ENV are read from the Dockerfile and run in
the repository directory, with the ENV values applied, except where a path or port only makes
sense inside the image: /opt/venv/bin becomes this virtualenv's bin, the metrics directory, the
Keras home and the model repository become temporary directories (the models a copy of the trained
ones), and the port a free one. The service also binds to loopback only (the image binds to all
interfaces so that -p works). Then /healthz, /readyz and a prediction answer, and the HEALTHCHECK's
own command reports healthy against it, and unhealthy against a port where nothing listens.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from metrics_support import PREDICT_URL, record_batches
from service_support import free_port, launch, make_repository, stop_service, wait_ready
from test_deploy import dockerfile_stages

IMAGE_VENV_BIN = "/opt/venv/bin"
# The variables whose image value is a path or port of the container; each is replaced locally.
LOCAL_OVERRIDES = (
    "PROMETHEUS_MULTIPROC_DIR",
    "SERVICE_MODELS_DIR",
    "SERVICE_PORT",
    "SERVICE_GRPC_PORT",
)


@dataclass(frozen=True)
class Image:
    """What the runtime stage declares: the command, the environment, the health check."""

    command: list[str]
    env: dict[str, str]
    healthcheck: list[str]
    healthcheck_timeout: float


def runtime_image() -> Image:
    stage = list(dockerfile_stages().values())[-1]
    entrypoint: list[str] = []
    command: list[str] = []
    env: dict[str, str] = {}
    healthcheck: list[str] = []
    timeout = 30.0  # Docker's default
    for keyword, arguments in stage:
        if keyword == "ENTRYPOINT":
            entrypoint = json.loads(arguments)  # exec form only: shell form is not JSON
        elif keyword == "CMD":
            command = json.loads(arguments)
        elif keyword == "ENV":
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                env[name] = value
        elif keyword == "HEALTHCHECK":
            options, _, probe = arguments.partition("CMD")
            healthcheck = json.loads(probe)
            for option in options.split():
                if option.startswith("--timeout="):
                    timeout = float(option.removeprefix("--timeout=").removesuffix("s"))
    assert command or entrypoint, "the runtime stage has an exec-form CMD or ENTRYPOINT"
    assert healthcheck, "the runtime stage has an exec-form HEALTHCHECK"
    return Image(entrypoint + command, env, healthcheck, timeout)


@dataclass(frozen=True)
class Container:
    """The image's command running locally."""

    base_url: str
    env: dict[str, str]
    metrics_dir: Path
    log: Path


@pytest.fixture(scope="module")
def image() -> Image:
    return runtime_image()


def local_env(image: Image, root: Path, models_dir: Path, port: int) -> dict[str, str]:
    """The image's ENV as it applies on this machine (see the module docstring)."""
    assert set(LOCAL_OVERRIDES) <= set(image.env), "the Dockerfile sets these; the test maps them"
    assert image.env["PATH"].startswith(IMAGE_VENV_BIN + ":"), image.env["PATH"]
    local = {"HOME": str(root), "LANG": "C.UTF-8"}  # what python:3.11-slim provides
    for name, value in image.env.items():
        value = value.replace(IMAGE_VENV_BIN, str(Path(sys.executable).parent))
        local[name] = value.replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    metrics_dir = root / "prometheus-multiproc"
    metrics_dir.mkdir()  # the image creates it in a RUN step
    local |= {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SERVICE_MODELS_DIR": str(models_dir),
        "SERVICE_PORT": str(port),
        "SERVICE_GRPC_PORT": str(free_port()),
        "SERVICE_HOST": "127.0.0.1",  # loopback only here
    }
    return local


@pytest.fixture(scope="module")
def container(
    image: Image, tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    root = tmp_path_factory.mktemp("image-command")
    models_dir = make_repository(tiny_models_dir, root / "models")
    port = free_port()
    env = local_env(image, root, models_dir, port)
    log = root / "container.log"
    process = launch(image.command, env, log)
    running = Container(f"http://127.0.0.1:{port}", env, Path(env["PROMETHEUS_MULTIPROC_DIR"]), log)
    try:
        try:
            wait_ready(running.base_url, timeout=120)
        except TimeoutError as exc:
            pytest.fail(f"{exc}; log:\n{log.read_text(errors='replace')[-4000:]}")
        yield running
    finally:
        assert stop_service(process) == 0, log.read_text(errors="replace")[-4000:]


def test_the_command_is_the_virtualenvs_gunicorn(image: Image, tmp_path: Path) -> None:
    env = local_env(image, tmp_path, tmp_path / "models", 8080)
    executable = subprocess.run(
        ["sh", "-c", f"command -v {shlex.quote(image.command[0])}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()
    assert Path(executable).parent == Path(sys.executable).parent, executable


def test_the_image_command_serves_health_readiness_and_predictions(container: Container) -> None:
    health = requests.get(f"{container.base_url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "alive"}
    ready = requests.get(f"{container.base_url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    records = record_batches([3], seed=9)[0]
    url = PREDICT_URL.format(container.base_url, "underwriting")
    answer = requests.post(url, json={"instances": records}, timeout=30)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    assert all(p["risk_class"] in ("standard", "substandard", "decline") for p in predictions)
    assert answer.json()["model_versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }
    assert all(p["decision"]["policy_version"] == 1 for p in predictions)
    # The metrics went to the directory the image's ENV names.
    assert list(container.metrics_dir.glob("counter_*.db"))
    assert (
        "underwriting_predictions_total"
        in requests.get(f"{container.base_url}/metrics", timeout=10).text
    )


def test_the_healthcheck_command_reports_healthy_and_unhealthy(
    image: Image, container: Container
) -> None:
    def probe(port: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            image.healthcheck,
            env=container.env | {"SERVICE_PORT": port},
            capture_output=True,
            text=True,
            timeout=image.healthcheck_timeout + 5,
            check=False,
        )

    healthy = probe(container.env["SERVICE_PORT"])
    assert healthy.returncode == 0, healthy.stderr
    unhealthy = probe(str(free_port()))  # nothing listens there
    assert unhealthy.returncode != 0
    assert "Connection refused" in unhealthy.stderr, unhealthy.stderr
