"""Shared fixtures and the test tiers: real models trained by the real code, never a mock.

Tiers, one folder each (the folder gives the marker; `pytest -m unit` runs one tier):
- unit:        pure Python, no TensorFlow, no model, no server: the whole tier in seconds.
- model:       a real model in process: a tiny training run (2,000 rows, 1 epoch, seconds) for
               protocol, validation and error tests; the trained pair where behaviour matters.
- integration: real servers and tools (gunicorn, Prometheus, promtool, hadolint, make).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "model", "integration")
# Small enough to train in well under a minute, large enough that the networks behave sensibly.
FIXTURE_ROWS = 20_000
FIXTURE_EPOCHS = 15
FIXTURE_SEED = 7
# The tiny models: real networks, exported and published by the training code, in seconds.
TINY_ROWS = 2_000
TINY_EPOCHS = 1
TINY_SEED = 3

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# The services tests start serve no gRPC unless a test gives them a port (service_support's
# start_service gives each a free one): two instances must never share the default port.
os.environ.setdefault("SERVICE_GRPC_PORT", "0")


_collected_tiers: set[str] = set()


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier, the folder it lives in; refuse a test outside the tiers."""
    for item in items:
        tier = Path(item.path).resolve().relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))
        _collected_tiers.add(tier)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Collecting the unit tier alone (`pytest tests/unit`) must not have imported TensorFlow."""
    if _collected_tiers == {"unit"} and "tensorflow" in sys.modules:
        raise pytest.UsageError("a unit test module imports TensorFlow; move it to tests/model")


@pytest.fixture(autouse=True)
def _unit_tests_leave_tensorflow_alone(request: pytest.FixtureRequest) -> Iterator[None]:
    """A unit test that starts TensorFlow belongs in the model tier."""
    watch = request.node.get_closest_marker("unit") is not None
    loaded_before = "tensorflow" in sys.modules
    yield
    if watch and not loaded_before:
        assert "tensorflow" not in sys.modules, "this unit test imported TensorFlow"


def train_into(
    models_dir: Path,
    rows: int = FIXTURE_ROWS,
    epochs: int = FIXTURE_EPOCHS,
    seed: int = FIXTURE_SEED,
) -> subprocess.CompletedProcess[str]:
    """Run the real training command, as a user would, into models_dir."""
    command = [
        sys.executable,
        "-m",
        "training",
        "--rows",
        str(rows),
        "--epochs",
        str(epochs),
        "--seed",
        str(seed),
        "--models-dir",
        str(models_dir),
        # Fixture sizes train in seconds, not to the quality targets: published over the gate,
        # as their metadata and card then say.
        "--publish-anyway",
    ]
    trained = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if trained.returncode == 0:  # and the shipped decision policy, as `make run` publishes it
        policy = [sys.executable, "-m", "policy", "publish", "--models-dir", str(models_dir)]
        subprocess.run(policy, capture_output=True, text=True, timeout=60, check=True)
    return trained


@pytest.fixture(scope="session")
def training_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Train once per session with the command: the model repository and the command's output."""
    models_dir = tmp_path_factory.mktemp("models")
    result = train_into(models_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return models_dir, result


@pytest.fixture(scope="session")
def trained_models_dir(training_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """Version 1 of the trained risk_class and max_coverage (read-only: copy it)."""
    return training_run[0]


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version 1 of both models from a tiny in-process training run (read-only: copy it)."""
    from policy.publish import DEFAULT_SOURCE, publish
    from training.options import TrainingOptions
    from training.pipeline import run

    models_dir = tmp_path_factory.mktemp("tiny-models")
    with contextlib.redirect_stdout(io.StringIO()):
        options = TrainingOptions(models_dir, rows=TINY_ROWS, seed=TINY_SEED, epochs=TINY_EPOCHS)
        run(dataclasses.replace(options, publish_anyway=True))  # tiny: below the gate's targets
    publish(DEFAULT_SOURCE, models_dir)
    return models_dir


# --- The prediction service: an app over a copy of the tiny models -------------------------------
# Service tests import the service lazily, so that collecting the other tests stays cheap.


@pytest.fixture(scope="session")
def service_models_dir(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding version 1 of each tiny model, for tests that only read it."""
    from service_support import make_repository

    return make_repository(tiny_models_dir, tmp_path_factory.mktemp("service-models"))


@pytest.fixture(scope="session")
def app(service_models_dir: Path) -> Any:
    """The service app (models loaded and warmed up), with small request limits."""
    from service_support import TEST_MAX_BODY_BYTES, TEST_MAX_RECORDS

    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    settings = Settings(
        models_dir=service_models_dir,
        max_records=TEST_MAX_RECORDS,
        max_body_bytes=TEST_MAX_BODY_BYTES,
        reload_interval_seconds=3600.0,
    )
    flask_app = create_app(settings)
    store = flask_app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready(), store.not_ready_reason("underwriting")
    return flask_app


@pytest.fixture
def client(app: Any) -> Any:
    """A Flask test client for the service app."""
    return app.test_client()
