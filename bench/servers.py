"""Start the floor app or the service under the same gunicorn config; time readiness, read RSS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "python:service.gunicorn_config"
# name -> (WSGI app, SERVICE_RUNTIME); the floor ignores the runtime.
APPS = {
    "floor": ("bench.floor_app:app", "litert"),
    "litert": ("service.wsgi:app", "litert"),
    "tensorflow": ("service.wsgi:app", "tensorflow"),
}


@dataclass
class Server:
    """A gunicorn master we started, its URL and how long it took to become ready."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    ready_seconds: float = 0.0

    def worker_memory_mib(self, field: str) -> list[float]:
        """Return each worker's `Rss` or `Pss` (shared pages split between sharers), in MiB."""
        return [_smaps_kib(pid, field) / 1024 for pid in _children(self.process.pid)]

    def worker_peak_rss_mib(self) -> list[float]:
        """Return each worker's highest resident size so far (VmHWM), in MiB."""
        return [_status_kib(pid, "VmHWM") / 1024 for pid in _children(self.process.pid)]

    def worker_cpu_seconds(self) -> float:
        """Return the CPU time (user + system) all workers have used so far."""
        return sum(cpu_seconds(pid) for pid in _children(self.process.pid))

    def stop(self) -> None:
        """SIGTERM the master (graceful), then make sure its process group is gone."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start(
    name: str, port: int, workers: int, models_dir: Path, log: Path, grpc_port: int = 0
) -> Server:
    """Start one app with identical settings and wait until every worker answers /readyz (and
    serves gRPC on `grpc_port`, unless 0)."""
    records = log.with_suffix(".decisions.sqlite3")
    for stale in (records, Path(f"{records}-wal"), Path(f"{records}-shm")):
        stale.unlink(missing_ok=True)  # each run starts an empty record store
    env = os.environ | {
        "SERVICE_HOST": "127.0.0.1",
        "SERVICE_PORT": str(port),
        "SERVICE_WORKERS": str(workers),
        "SERVICE_MODELS_DIR": str(models_dir),
        "SERVICE_LOG_LEVEL": "warning",
        "SERVICE_RUNTIME": APPS[name][1],
        "SERVICE_GRPC_PORT": str(grpc_port),
        # Every benchmarked decision is recorded, as in production, beside the run's logs.
        "SERVICE_DECISIONS_DATABASE": str(records),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the config makes a fresh one per server
    command = [sys.executable, "-m", "gunicorn", "-c", CONFIG, APPS[name][0]]
    started = time.monotonic()
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, f"http://127.0.0.1:{port}")
    _wait_ready(server, started)
    return server


def _wait_ready(server: Server, started: float, timeout: float = 120.0) -> None:
    """Wait for 20 consecutive 200s from /readyz: with sync workers, that means all of them."""
    streak = 0
    while streak < 20:
        if server.process.poll() is not None or time.monotonic() - started > timeout:
            raise RuntimeError(f"{server.name} did not become ready (see the log)")
        try:
            ok = requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            ok = False
        streak = streak + 1 if ok else 0
        if not ok:
            time.sleep(0.02)
    server.ready_seconds = time.monotonic() - started


def _children(pid: int) -> list[int]:
    """Return the child process ids of `pid` (gunicorn's workers)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _smaps_kib(pid: int, field: str) -> int:
    """Return one total of /proc/<pid>/smaps_rollup (e.g. Rss, Pss) in KiB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """Return utime + stime of a process from /proc/<pid>/stat, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    """Return one field of /proc/<pid>/status (e.g. VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0
