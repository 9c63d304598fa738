"""Decisions through real gunicorn workers: every acknowledged decision is in the record store.

Two workers write the same store at once (SQLite in WAL mode, or a real PostgreSQL); thousands
of decisions, none lost, one intact chain; and a worker SIGKILLed mid-run loses nothing that a
200 acknowledged.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from postgres_support import postgres_server
from service_support import (
    applicant_columns,
    columns_to_rows,
    gunicorn_workers,
    make_repository,
    served,
)

THREADS = 8
CONCURRENT_DECISIONS = 2_000
DURABILITY_REQUESTS = 10_000


@pytest.fixture(scope="module")
def repository(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repository(tiny_models_dir, tmp_path_factory.mktemp("decisions") / "models")


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return columns_to_rows(applicant_columns(rows=50, seed=17))


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: Any, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return {"decisions_database": str(tmp_path / "decisions.sqlite3")}
    import psycopg

    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS decisions, decision_anchor")
    return {"decisions_database_url": url}


def send(base_url: str, records: list[dict[str, Any]], ids: list[str]) -> dict[str, int]:
    """POST one record per id from THREADS threads; return each acknowledged id's status."""
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    chunks = [ids[i::THREADS] for i in range(THREADS)]

    def work(chunk: list[str]) -> None:
        with requests.Session() as session:
            for n, request_id in enumerate(chunk):
                try:
                    response = session.post(
                        f"{base_url}/v1/models/underwriting:predict",
                        json={"instances": [records[n % len(records)]]},
                        headers={"X-Request-ID": request_id},
                        timeout=30,
                    )
                    status = response.status_code
                except requests.RequestException:  # the killed worker's connection
                    status = 0
                with lock:
                    statuses[request_id] = status

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def recorded_ids(settings: dict[str, str]) -> list[str]:
    """Every request id in the store, read directly from the database."""
    if "decisions_database" in settings:
        with sqlite3.connect(settings["decisions_database"]) as connection:
            rows = connection.execute("SELECT request_id FROM decisions").fetchall()
    else:
        import psycopg

        with psycopg.connect(settings["decisions_database_url"]) as connection:
            rows = connection.execute("SELECT request_id FROM decisions").fetchall()
    return [str(row[0]) for row in rows]


def verify(settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = os.environ | {f"SERVICE_{key.upper()}": value for key, value in settings.items()}
    return subprocess.run(
        [sys.executable, "-m", "service.decisions", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_two_workers_record_thousands_of_decisions_in_one_intact_chain(
    repository: Path,
    records: list[dict[str, Any]],
    store_settings: dict[str, str],
    tmp_path: Path,
) -> None:
    ids = [f"concurrent-{i}" for i in range(CONCURRENT_DECISIONS)]
    with served(repository, tmp_path / "service.log", None, **store_settings) as (base_url, _):
        statuses = send(base_url, records, ids)
        assert set(statuses.values()) == {200}
        sample = requests.get(f"{base_url}/v1/decisions/{ids[123]}", timeout=10).json()
        assert sample["decisions"][0]["request_id"] == ids[123]
        # Reasons through the workers' explain interpreters, for the adverse ones among them.
        decided = [
            requests.get(f"{base_url}/v1/decisions/{i}", timeout=10).json()["decisions"][0][
                "decision"
            ]
            for i in ids[: len(records)]
        ]
        adverse = [d for d in decided if (d["outcome"], d["risk_class"]) != ("accept", "standard")]
        assert adverse and all(d["reasons_complete"] is not None for d in adverse)
        assert any(d["reasons"] for d in adverse)
    found = recorded_ids(store_settings)
    assert sorted(found) == sorted(ids)  # none lost, none twice
    checked = verify(store_settings)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"chain intact, {CONCURRENT_DECISIONS} decisions" in checked.stdout


def test_a_worker_killed_mid_run_loses_no_acknowledged_decision(
    repository: Path, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings = {"decisions_database": str(tmp_path / "decisions.sqlite3")}
    ids = [f"durable-{i}" for i in range(DURABILITY_REQUESTS)]
    with served(repository, tmp_path / "service.log", None, **settings) as (base_url, process):
        killed: list[int] = []

        def kill_one_worker() -> None:
            time.sleep(3.0)  # mid-run: thousands of decisions already acknowledged
            victim = gunicorn_workers(process.pid)[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        killer = threading.Thread(target=kill_one_worker)
        killer.start()
        statuses = send(base_url, records, ids)
        killer.join()
        assert killed and killed[0] not in gunicorn_workers(process.pid)  # gunicorn replaced it
    acknowledged = {request_id for request_id, status in statuses.items() if status == 200}
    recorded = set(recorded_ids(settings))
    assert len(acknowledged) >= DURABILITY_REQUESTS * 0.9
    assert acknowledged <= recorded, sorted(acknowledged - recorded)[:5]
    checked = verify(settings)
    assert checked.returncode == 0, checked.stdout + checked.stderr
