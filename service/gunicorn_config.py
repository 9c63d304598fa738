"""gunicorn configuration: `gunicorn -c python:service.gunicorn_config service.wsgi:app`.

Sync workers, no preload (TensorFlow must load in each worker after the fork; preloading it in
the master hangs the workers; so must grpc's threads), graceful shutdown, prometheus_client's
multiprocess hooks, and each worker's gRPC server (started once its models are loaded, drained
when it exits).
Imported by the master: it must not import TensorFlow, Flask or the app.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from service.observability.log_format import logging_config
from service.observability.native_output import NativeOutput
from service.settings import Settings, SettingsError

# Read by TensorFlow at import in the workers, which inherit the master's environment.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

try:
    _settings = Settings.from_env()
except SettingsError as exc:
    sys.exit(f"error: {exc}")

wsgi_app = "service.wsgi:app"  # a positional APP_MODULE replaces it
bind = _settings.bind
if _settings.front == "nginx":
    # Above the front's limits (8 KiB a line with its CRLF, 32 KiB of headers in all:
    # service/front/nginx.conf.template), so that nginx, answering in the envelope, refuses
    # first: gunicorn's own answers are HTML. Facing clients itself (SERVICE_FRONT=none),
    # gunicorn keeps its defaults.
    limit_request_line = 8190  # gunicorn's maximum; nginx refuses a longer line first
    limit_request_field_size = 16384
    limit_request_fields = 8190
# Only X-Forwarded-Proto (set by the front) says the scheme.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
workers = _settings.workers
worker_class = "sync"
preload_app = False
timeout = _settings.worker_timeout_seconds
graceful_timeout = _settings.graceful_timeout_seconds
loglevel = _settings.log_level
# The app writes one JSON line per request instead (service/observability/access_log.py).
accesslog = None
errorlog = "-"
# JSON lines: gunicorn repeats refused input (a header, a request line) in its error log.
logconfig_dict = logging_config(_settings.log_level)
logger_class = "service.observability.log_format.GunicornLogger"
# gunicorn >= 24 opens a control socket at one fixed path per user; instances would fight over it.
control_socket_disable = True
# Must be set before prometheus_client is first imported, here and in the forked workers.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="underwriting-metrics-")


def on_starting(server: Any) -> None:
    """Start from an empty metrics directory: stale files would resurrect old counts."""
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    # Only our files, whatever dir was given: prometheus_client's, and the model store's claims
    # on refused versions (service.repository.store.REFUSAL_SUFFIX; not imported: it loads Flask)
    # and the drift and shadow windows (service.monitoring's *.counts files).
    for pattern in ("*.db", "*.refused", "*.counts"):
        for stale in path.glob(pattern):
            stale.unlink()


# What native libraries write to stderr in this worker (LiteRT's and TensorFlow's messages),
# logged as JSON lines instead of text: service.observability.native_output.
_native_output = NativeOutput()


def post_fork(server: Any, worker: Any) -> None:
    """Before the worker imports the app (and a model runtime): relay fd 2 into the log."""
    _native_output.start()
    logging.captureWarnings(True)  # Python's warnings as log lines too, not text on stderr


def worker_exit(server: Any, worker: Any) -> None:
    """Drain the worker's gRPC server (health NOT_SERVING, then the calls in flight finish);
    log what native code wrote last before the worker exits."""
    if _grpc_server is not None:
        grace = max(_settings.graceful_timeout_seconds - GRPC_EXIT_MARGIN_SECONDS, 0.0)
        _grpc_server.stop(grace)
    _native_output.stop()


# How long a new worker waits for its first scan of the repository before it takes requests:
# well inside the Kubernetes startup probe's minute (deploy/kubernetes/deployment.yaml).
FIRST_SCAN_SECONDS = 45.0
STORE_KEY = "model_store"  # service.app.STORE_KEY (not imported: it loads Flask)
GRPC_KEY = "grpc_server"  # service.app.GRPC_KEY: starts the worker's gRPC server
# Beyond a worker's gRPC calls in flight at exit, what gunicorn's graceful timeout leaves it.
GRPC_EXIT_MARGIN_SECONDS = 1.0
_grpc_server: Any = None  # this worker's gRPC server (service.grpc_api.server.GrpcServer)


def post_worker_init(worker: Any) -> None:
    """Take no request before the models are loaded: wait for the first scan of the repository.

    A worker restarted under load would otherwise answer 503 until its models are in (its
    neighbours are ready, so the instance stays routed). gunicorn hears from the worker while
    it waits. An empty or broken repository ends the scan at once; a load slower than
    FIRST_SCAN_SECONDS lets the worker serve (503 until ready, /healthz 200) rather than leave
    the instance unanswering; a worker told to stop stops waiting. Then the worker serves gRPC
    too (SERVICE_GRPC_PORT, unless 0), over the same dataplane as its REST requests.
    """
    global _grpc_server
    extensions = getattr(worker.wsgi, "extensions", {})
    store = extensions.get(STORE_KEY)
    if store is None:
        return
    deadline = time.monotonic() + FIRST_SCAN_SECONDS
    while worker.alive and not store.wait_scanned(1.0) and time.monotonic() < deadline:
        worker.notify()
    if _settings.grpc_port and worker.alive:
        # The app's dataplane serves gRPC too: every worker listens on SERVICE_GRPC_PORT.
        _grpc_server = extensions[GRPC_KEY]()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (model info) and windows from the exposition; fold its
    counters and histograms into the archive (service.observability.compaction)."""
    from prometheus_client import multiprocess

    from service.observability.compaction import fold_dead_worker

    multiprocess.mark_process_dead(worker.pid)
    fold_dead_worker(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]), worker.pid)
    for window in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob(f"*-{worker.pid}.counts"):
        window.unlink(missing_ok=True)


# A large request (a batch of thousands of records) leaves its parsed objects' memory in the
# allocator's free lists; returning it to the system keeps a worker's resident size near its
# idle ~60 MiB instead of its peak (measured in docs/performance.md).
TRIM_AFTER_BYTES = 256 * 1024


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """After a large request, hand freed memory back to the system (glibc's malloc_trim)."""
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if size >= TRIM_AFTER_BYTES:
        _malloc_trim()


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
