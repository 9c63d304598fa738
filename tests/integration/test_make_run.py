"""`make run`, the README's first command, serves the repository SERVICE_MODELS_DIR names."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests
from service_support import (
    free_port,
    launch,
    make_repository,
    make_run,
    stop_service,
    wait_ready,
)


def test_make_run_serves_the_models_dir_the_service_setting_names(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make not found: the README's commands need GNU make")
    models_dir = make_repository(tiny_models_dir, tmp_path / "srv-models", versions=(3,))
    # Run the Makefile from an empty directory: were the setting ignored, `make run` would train
    # into ./models here (and fail the test) rather than into the checkout.
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    port = free_port()
    env = os.environ | {
        "SERVICE_MODELS_DIR": str(models_dir),
        "SERVICE_HOST": "127.0.0.1",
        "SERVICE_PORT": str(port),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = make_run(make)
    log = tmp_path / "make-run.log"
    process = launch(command, env, log, cwd=workdir)
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout=120)
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert ready["models"]["underwriting"] == {
            "risk_class": "3",
            "max_coverage": "3",
            "underwriting_policy": "1",
        }
    finally:
        stop_service(process)
    assert f"found trained versions in {models_dir}" in log.read_text()
    assert list(workdir.iterdir()) == []
