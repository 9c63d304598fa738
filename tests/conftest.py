"""Shared fixtures: real models trained once per test session (never a mocked framework)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Small enough to train in well under a minute, large enough that the networks behave sensibly.
FIXTURE_ROWS = 20_000
FIXTURE_EPOCHS = 15
FIXTURE_SEED = 7

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def train_into(models_dir: Path, rows: int = FIXTURE_ROWS, epochs: int = FIXTURE_EPOCHS,
               seed: int = FIXTURE_SEED) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the real training command, as a user would, into models_dir."""
    command = [sys.executable, "-m", "training", "--rows", str(rows), "--epochs", str(epochs),
               "--seed", str(seed), "--models-dir", str(models_dir)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="session")
def training_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Train once per session: the model repository and the command's output."""
    models_dir = tmp_path_factory.mktemp("models")
    result = train_into(models_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return models_dir, result


@pytest.fixture(scope="session")
def trained_models_dir(training_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """A model repository holding version 1 of risk_class and max_coverage (read-only: copy it)."""
    return training_run[0]


# --- The prediction service: an app over a copy of the trained models ----------------------------
# Service tests import the service lazily, so that collecting the other tests stays cheap.


@pytest.fixture(scope="session")
def service_models_dir(trained_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding version 1 of each trained model, for tests that only read it."""
    from service_support import make_repository

    return make_repository(trained_models_dir, tmp_path_factory.mktemp("service-models"))


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
