"""Decisions through real gunicorn workers: every acknowledged decision is in the record store.

Two workers write the same store at once (SQLite in WAL mode, or a real PostgreSQL); thousands
of decisions, none lost, one intact chain; a worker SIGKILLed mid-run loses nothing that a 200
acknowledged, and workers killed again and again leave no request recorded twice. A store that
cannot write (a full disk, a read-only server) takes the replica out of readiness within a
second, and back once it writes again.
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
from tool_support import fill, small_file_system

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
        connection.execute("DROP TABLE IF EXISTS decisions, decision_anchor, decision_store_probe")
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


KILLS = 12


def test_worker_kills_under_load_leave_one_record_per_answered_request(
    repository: Path, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A worker killed after its commit but before its answer: the front sends the request
    again to the other worker, under the same id, and that worker answers from the record."""
    settings = {"decisions_database": str(tmp_path / "decisions.sqlite3")}
    statuses: dict[str, int] = {}
    with served(repository, tmp_path / "service.log", None, **settings) as (base_url, process):
        done = threading.Event()
        lock = threading.Lock()

        def client(k: int) -> None:
            with requests.Session() as session:
                n = 0
                while not done.is_set():
                    request_id, n = f"killed-{k}-{n}", n + 1
                    try:
                        status = session.post(
                            f"{base_url}/v1/models/underwriting:predict",
                            json={"instances": [records[n % len(records)]]},
                            headers={"X-Request-ID": request_id},
                            timeout=30,
                        ).status_code
                    except requests.RequestException:
                        status = 0
                    with lock:
                        statuses[request_id] = status

        threads = [threading.Thread(target=client, args=(k,)) for k in range(THREADS)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(KILLS):
                time.sleep(0.5)
                workers = gunicorn_workers(process.pid)
                os.kill(workers[0], signal.SIGKILL)
                deadline = time.monotonic() + 60
                while len(set(gunicorn_workers(process.pid)) - {workers[0]}) < 2:
                    assert time.monotonic() < deadline, "no replacement worker"
                    time.sleep(0.05)
        finally:
            done.set()
            for thread in threads:
                thread.join()
    found = recorded_ids(settings)
    acknowledged = {request_id for request_id, status in statuses.items() if status == 200}
    twice = len(found) - len(set(found))
    lost = acknowledged - set(found)
    print(
        f"\n{KILLS} workers killed under {THREADS} clients: {len(statuses)} requests, "
        f"{len(acknowledged)} answered 200, {len(found)} records, {twice} recorded twice, "
        f"{len(lost)} answered but not recorded"
    )
    assert twice == 0 and not lost
    assert len(acknowledged) >= len(statuses) - KILLS  # only a cut answer can be lost
    checked = verify(settings)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _readiness_follows_the_store(
    base_url: str, request_id: str, break_store: Any, repair_store: Any, log: Path
) -> dict[str, float]:
    """Break the store, then repair it: /readyz says so within a second each time, reads keep
    working, and the log holds a line per failure kind and worker, not one per request."""
    predict = f"{base_url}/v1/models/underwriting:predict"
    body = {"instances": [columns_to_rows(applicant_columns(rows=1, seed=5))[0]]}
    break_store()
    failed = refused = 0
    broken_at = time.monotonic()
    while time.monotonic() - broken_at < 30 and failed < 200:
        status = requests.post(predict, json=body, timeout=30).status_code
        assert status in (200, 503), status
        failed += status == 503
    assert failed >= 200, "the store never failed a write"
    seen_failing = time.monotonic()
    readiness = requests.get(f"{base_url}/readyz", timeout=10)
    not_ready_after = time.monotonic() - seen_failing
    assert readiness.status_code == 503, readiness.text
    assert readiness.json()["details"] == {"decision_store": "failing"}
    for _ in range(10):  # whichever worker answers
        refused += requests.get(f"{base_url}/readyz", timeout=10).status_code == 503
    assert refused == 10
    read = requests.get(f"{base_url}/v1/decisions/{request_id}", timeout=10)
    assert read.status_code == 200 and read.json()["decisions"], read.text
    store_lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if "record store failed" in line
    ]
    repair_store()
    repaired = time.monotonic()
    streak: list[float] = []  # when each of the latest consecutive 200s came: every worker
    while len(streak) < 10:
        assert time.monotonic() - repaired < 10, "never ready again"
        answered = requests.get(f"{base_url}/readyz", timeout=10).status_code == 200
        streak = [*streak, time.monotonic()] if answered else []
        time.sleep(0.02)
    ready_after = streak[0] - repaired
    assert requests.post(predict, json=body, timeout=30).status_code == 200
    return {
        "failed requests": failed,
        "store error lines": len(store_lines),
        "not ready after (s)": not_ready_after,
        "ready again after (s)": ready_after,
    }


def test_readiness_follows_a_full_disk_under_the_sqlite_store(
    repository: Path, tmp_path: Path
) -> None:
    with small_file_system("2m") as disk:
        settings = {"decisions_database": str(disk / "decisions.sqlite3")}
        log = tmp_path / "service.log"
        metrics_dir = tmp_path / "metrics"
        metrics_dir.mkdir()
        env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        with served(repository, log, env, **settings) as (base_url, _):
            body = {"instances": [columns_to_rows(applicant_columns(rows=1, seed=5))[0]]}
            headers = {"X-Request-ID": "before-the-disk-filled"}
            predict = f"{base_url}/v1/models/underwriting:predict"
            assert requests.post(predict, json=body, headers=headers, timeout=30).ok
            filler: list[Path] = []
            metric: list[str] = []
            healthy: list[str] = []

            def break_store() -> None:
                filler.append(fill(disk))

            def repair_store() -> None:
                scraped = requests.get(f"{base_url}/metrics", timeout=10).text
                metric.extend(
                    line
                    for line in scraped.splitlines()
                    if line.startswith("underwriting_decision_store_up")
                )
                filler[0].unlink()

            figures = _readiness_follows_the_store(
                base_url, "before-the-disk-filled", break_store, repair_store, log
            )
            scraped = requests.get(f"{base_url}/metrics", timeout=10).text
            healthy.extend(
                line
                for line in scraped.splitlines()
                if line.startswith("underwriting_decision_store_up")
            )
    print(f"\nSQLite on a full disk: {figures}")
    assert metric == ['underwriting_decision_store_up{store="sqlite"} 0.0'], metric
    assert healthy == ['underwriting_decision_store_up{store="sqlite"} 1.0'], healthy
    assert figures["not ready after (s)"] < 1.0 and figures["ready again after (s)"] < 1.0
    assert 1 <= figures["store error lines"] <= 2 * 2, figures  # a kind or two, per worker


def test_readiness_follows_a_read_only_postgresql_store(
    repository: Path, postgres_url: str, tmp_path: Path
) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS decisions, decision_anchor, decision_store_probe")
    settings = {"decisions_database_url": postgres_url}
    log = tmp_path / "service.log"
    with served(repository, log, None, **settings) as (base_url, _):
        body = {"instances": [columns_to_rows(applicant_columns(rows=1, seed=5))[0]]}
        headers = {"X-Request-ID": "before-read-only"}
        predict = f"{base_url}/v1/models/underwriting:predict"
        assert requests.post(predict, json=body, headers=headers, timeout=30).ok

        def set_read_only(on: bool) -> None:
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute("SET default_transaction_read_only = off")  # this session writes
                admin.execute(f"ALTER DATABASE postgres SET default_transaction_read_only = {on}")
                if on:  # as a failover to a read-only server does: the sessions start again
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = 'postgres' AND pid <> pg_backend_pid()"
                    )

        try:
            figures = _readiness_follows_the_store(
                base_url,
                "before-read-only",
                lambda: set_read_only(True),
                lambda: set_read_only(False),
                log,
            )
        finally:
            set_read_only(False)
    print(f"\nPostgreSQL made read-only: {figures}")
    assert figures["not ready after (s)"] < 1.0 and figures["ready again after (s)"] < 1.0
    assert 1 <= figures["store error lines"] <= 3 * 2, figures  # a kind or three, per worker
