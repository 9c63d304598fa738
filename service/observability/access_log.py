"""Access logs: one JSON line per request on stdout.

A line carries what operators need (request id, route template, status, duration, records scored,
model versions, client address) and never a request's body, query string or headers: no
applicant's values, no API key. It is written with one `write` call, so lines never interleave.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Request

_RECORDS, _VERSIONS = "service.records", "service.model_versions"


def note_prediction(environ: dict[str, Any], size: int, versions: dict[str, int]) -> None:
    """Record, for the access log, how many records were scored and by which versions."""
    environ[_RECORDS] = size
    environ[_VERSIONS] = versions


def write(
    request: Request, request_id: str, route: str, status: int, wall: float, seconds: float
) -> None:
    """Write the request's line to the current stdout."""
    environ = request.environ
    versions = environ.get(_VERSIONS, {})
    entry = {
        "timestamp": datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "method": request.method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "records": environ.get(_RECORDS, 0),
        "model_versions": {name: str(v) for name, v in versions.items()},
        "client": request.remote_addr,
    }
    try:
        sys.stdout.write(orjson.dumps(entry).decode() + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed or broken stdout must not fail the request
        pass
