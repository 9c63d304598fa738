"""Shared fixtures: real models trained once per test session (never a mocked framework)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
