"""Real gunicorn, two workers, over HTTP: predictions, metrics, hot reload, refusal, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from service_support import (
    applicant_columns,
    columns_to_rows,
    free_port,
    make_repository,
    publish_version,
    served,
    start_service,
    stop_service,
    tamper,
    wait_ready,
)

POLL_SECONDS = 0.5
PREDICT = "/v1/models/underwriting:predict"


@dataclass
class Server:
    url: str
    models_dir: Path
    log: Path


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m service` with 2 workers and a short poll interval over a private repository."""
    root = tmp_path_factory.mktemp("gunicorn")
    models_dir = make_repository(tiny_models_dir, root / "models")
    log = root / "service.log"
    with served(models_dir, log, reload_interval_seconds=str(POLL_SECONDS)) as (url, _):
        yield Server(url, models_dir, log)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return columns_to_rows(applicant_columns(rows=20, seed=4))


def metric(url: str, line_start: str) -> float:
    """Return the value of the first exposition line starting with `line_start` (0 if none)."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start)]
    return values[0] if values else 0.0


def test_predicts_rows_and_columns(server: Server, rows: list[dict[str, Any]]) -> None:
    by_rows = requests.post(f"{server.url}{PREDICT}", json={"instances": rows}, timeout=10)
    assert by_rows.status_code == 200
    assert len(by_rows.json()["predictions"]) == len(rows)
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    by_columns = requests.post(f"{server.url}{PREDICT}", json={"inputs": columns}, timeout=10)
    assert by_columns.status_code == 200
    assert by_columns.json()["outputs"]["risk_class"] == [
        p["risk_class"] for p in by_rows.json()["predictions"]
    ]


def test_errors_keep_the_envelope_over_http(server: Server) -> None:
    response = requests.post(f"{server.url}{PREDICT}", data="{}", timeout=5)
    assert response.status_code == 415
    assert set(response.json()) == {"error", "details"}
    assert requests.get(f"{server.url}/nope", timeout=5).json()["error"].startswith("Not Found")


def test_metrics_add_up_across_workers(server: Server, rows: list[dict[str, Any]]) -> None:
    key = 'underwriting_predictions_total{model="risk_class",version="1"}'
    before = metric(server.url, key)
    for _ in range(10):  # sync workers close each connection: requests spread over both
        requests.post(f"{server.url}{PREDICT}", json={"instances": rows[:3]}, timeout=10)
    for _ in range(4):  # whichever worker answers the scrape reports every worker's counts
        assert metric(server.url, key) == before + 30
    assert metric(server.url, 'underwriting_model_info{model="risk_class",version="1"}') == 1


def test_new_version_is_served_without_a_failed_request(
    server: Server, tiny_models_dir: Path, rows: list[dict[str, Any]]
) -> None:
    load = Load(server.url, rows[0])
    load.start()
    try:
        time.sleep(0.5)
        published = time.monotonic()
        for name in ("risk_class", "max_coverage"):
            publish_version(tiny_models_dir / name / "1", server.models_dir, name, 2)
        switched = load.wait_for_versions(
            {"risk_class": "2", "max_coverage": "2", "underwriting_policy": "1"}, streak=20
        )
        took = time.monotonic() - published
    finally:
        load.stop()
    assert load.failures == [], load.failures[:3]
    assert switched, f"still serving {load.last_versions} after {took:.1f} s"
    assert took < POLL_SECONDS + 10, took
    info = 'underwriting_model_info{model="risk_class",version="%s"}'
    assert wait_until(lambda: metric(server.url, info % 1) == 0)  # both workers moved on
    assert metric(server.url, info % 2) == 1


def test_corrupt_version_is_refused_and_the_previous_keeps_serving(
    server: Server, tiny_models_dir: Path, rows: list[dict[str, Any]]
) -> None:
    failures = 'underwriting_model_load_failures_total{model="risk_class"}'
    before = metric(server.url, failures)
    source = tiny_models_dir / "risk_class" / "1"
    tamper(publish_version(source, server.models_dir, "risk_class", 3))
    refused = "risk_class version 3 refused"
    assert wait_until(lambda: server.log.read_text().count(refused) == 2)  # by each worker
    time.sleep(3 * POLL_SECONDS)
    assert server.log.read_text().count(refused) == 2  # once, not at every poll
    assert metric(server.url, failures) == before + 1  # one bad version, counted once
    for _ in range(6):
        response = requests.post(f"{server.url}{PREDICT}", json={"instances": rows[:1]}, timeout=5)
        assert response.status_code == 200
        assert response.json()["model_versions"]["risk_class"] == "2"
    status = requests.get(f"{server.url}/v1/models/risk_class", timeout=5).json()
    entry = status["model_version_status"][0]
    assert (entry["version"], entry["state"]) == ("3", "END")
    assert "sha256 mismatch" in entry["status"]["error_message"]


def test_sigterm_lets_a_slow_batch_finish(tiny_models_dir: Path, tmp_path: Path) -> None:
    records = columns_to_rows(applicant_columns(rows=40_000, seed=8))
    models_dir = make_repository(tiny_models_dir, tmp_path / "models")
    port, log = free_port(), tmp_path / "service.log"
    process = start_service(
        models_dir, port, log, max_records="50000", max_body_bytes=str(64 << 20)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        result: dict[str, Any] = {}
        body = {"instances": records}

        def send() -> None:
            result["response"] = requests.post(f"{url}{PREDICT}", json=body, timeout=60)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.8)  # the batch is being validated and scored now (it takes seconds)
        process.send_signal(signal.SIGTERM)
        sender.join(60)
        assert process.wait(timeout=40) == 0
    finally:
        stop_service(process)
    response = result["response"]
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["predictions"]) == len(records)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def wait_until(condition: Any, timeout: float = 15.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


@dataclass
class Load:
    """A client sending one-record predictions back to back, recording every outcome."""

    url: str
    record: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    last_versions: list[dict[str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = requests.post(
                    f"{self.url}{PREDICT}", json={"instances": [self.record]}, timeout=10
                )
            except requests.RequestException as exc:
                self.failures.append(repr(exc))
                continue
            if response.status_code != 200:
                self.failures.append(f"{response.status_code} {response.text[:200]}")
                continue
            self.last_versions = [*self.last_versions[-99:], response.json()["model_versions"]]

    def wait_for_versions(self, wanted: dict[str, str], streak: int, timeout: float = 30) -> bool:
        """Wait until the last `streak` responses all came from the wanted versions."""
        return wait_until(
            lambda: (
                len(self.last_versions) >= streak
                and all(v == wanted for v in self.last_versions[-streak:])
            ),
            timeout,
        )


def _repository_command(*args: str) -> str:
    """Run `python -m service.repository` as an operator would; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "service.repository", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_promotions_and_rollbacks_are_served_within_a_poll_without_a_failed_request(
    tiny_models_dir: Path, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    """The documented paths, against the real launcher: a staged version promoted, rolled back,
    and a shadow challenger promoted, each served at the next poll with no request failing."""
    models_dir = make_repository(tiny_models_dir, tmp_path / "models")
    staging = make_repository(tiny_models_dir, tmp_path / "staging", policy=False)
    challenger = make_repository(tiny_models_dir, tmp_path / "challenger", policy=False)
    took: dict[str, float] = {}
    log = tmp_path / "service.log"
    poll = str(POLL_SECONDS)
    service = served(
        models_dir, log, reload_interval_seconds=poll, shadow_models_dir=str(challenger)
    )
    with service as (url, _):
        load = Load(url, rows[0])
        load.start()
        try:
            steps = [
                ("promote", ["promote", "--from", str(staging)], "2"),
                ("rollback", ["rollback"], "3"),
                ("shadow promotion", ["promote", "--from", str(challenger)], "4"),
            ]
            for step, args, version in steps:
                printed = _repository_command(*args, "--models-dir", str(models_dir))
                published = time.monotonic()
                assert f"risk_class: version {version} published" in printed, printed
                wanted = {"risk_class": version, "max_coverage": version}
                switched = load.wait_for_versions(wanted | {"underwriting_policy": "1"}, streak=20)
                took[step] = time.monotonic() - published
                assert switched, f"{step}: still serving {load.last_versions[-1:]}"
        finally:
            load.stop()
    print(f"\nserved by every worker after (s): {took}")
    assert load.failures == [], load.failures[:3]
    assert all(seconds < POLL_SECONDS + 10 for seconds in took.values()), took
    listed = _repository_command("list", "--models-dir", str(models_dir))
    assert "rolled back to" in listed and f"promoted from {challenger.resolve()}" in listed
