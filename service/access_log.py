"""Access logs: one JSON line per request on stdout, and a request id on every response.

The id is the caller's `X-Request-ID` when it is a plausible id, else a new one; it is echoed in
the response header and written with any logged exception. A line carries what operators need
(route template, status, duration, records scored, model versions, client address) and never a
request's body, query string or headers: no applicant's values, no API key.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, has_request_context, request

from service.http_metrics import route_label

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")  # anything else is replaced, not echoed
_ID, _START, _WALL = "service.request_id", "service.access_start", "service.access_wall"
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


def request_id() -> str:
    """Return the current request's id ("-" outside a request)."""
    return str(request.environ.get(_ID, "-")) if has_request_context() else "-"


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
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        environ = request.environ
        environ[_ID] = incoming if _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        environ[_WALL] = time.time()
        environ[_START] = time.perf_counter()

    @app.after_request
    def _end(response: Response) -> Response:
        environ = request.environ
        response.headers[REQUEST_ID_HEADER] = environ.setdefault(_ID, uuid.uuid4().hex)
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
        "request_id": environ[_ID],
        "method": request.method,
        "route": route_label(),
        "status": status,
        "duration_ms": None if duration is None else round(duration, 3),
        "records": environ.get(_RECORDS, 0),
        "model_versions": {name: str(v) for name, v in versions.items()},
        "client": request.remote_addr,
    }
