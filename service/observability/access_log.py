"""Access logs: one JSON line per request on stdout, and the request id on every response.

The id (service.http.request_id) is echoed in the response header and written with any logged
exception. A line carries what operators need (route template, status, duration, records
scored, model versions, client address) and never a request's body, query string or headers:
no applicant's values, no API key.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

from service.http import request_id
from service.observability.http_metrics import route_label

_START, _WALL = "service.access_start", "service.access_wall"
_RECORDS, _VERSIONS = "service.records", "service.model_versions"
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
log = logging.getLogger("service.access")


class StdoutLines(logging.Handler):
    """Write each record as one line to the current stdout (one write: lines never interleave)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def note_prediction(size: int, versions: dict[str, int]) -> None:
    """Record, for the access log, how many records were scored and by which versions."""
    request.environ[_RECORDS] = size
    request.environ[_VERSIONS] = versions


def install(app: Flask) -> None:
    """Give every request an id, and log it as one JSON line once the response is ready."""
    if not any(isinstance(h, StdoutLines) for h in log.handlers):
        log.addHandler(StdoutLines())
    log.setLevel(logging.INFO)  # access logs do not follow SERVICE_LOG_LEVEL
    log.propagate = False

    @app.before_request
    def _begin() -> None:
        request_id.assign(request)
        request.environ[_WALL] = time.time()
        request.environ[_START] = time.perf_counter()

    @app.after_request
    def _end(response: Response) -> Response:
        environ = request.environ
        response.headers[request_id.REQUEST_ID_HEADER] = request_id.ensure(environ)
        if log.isEnabledFor(logging.INFO):
            log.info(_encoder.encode(_entry(environ, response.status_code)))
        return response


def _entry(environ: dict[str, Any], status: int) -> dict[str, Any]:
    """The fields of one access-log line."""
    start = environ.get(_START)
    duration = (time.perf_counter() - start) * 1000 if start is not None else None
    wall = environ.get(_WALL) or time.time()
    versions = environ.get(_VERSIONS, {})
    return {
        "timestamp": datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id.ensure(environ),
        "method": request.method,
        "route": route_label(),
        "status": status,
        "duration_ms": None if duration is None else round(duration, 3),
        "records": environ.get(_RECORDS, 0),
        "model_versions": {name: str(v) for name, v in versions.items()},
        "client": request.remote_addr,
    }
