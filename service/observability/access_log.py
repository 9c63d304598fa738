"""Access logs: one JSON line per request on stdout, REST's and gRPC's.

A line carries what operators need (request id, route template or gRPC method, status, duration,
records scored, model versions, client address) and never a request's body, query string,
headers or metadata: no applicant's values, no API key. It is written with one `write` call, so
lines never interleave.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import orjson

_RECORDS, _VERSIONS = "service.records", "service.model_versions"


def note_prediction(environ: dict[str, Any], size: int, versions: dict[str, int]) -> None:
    """Record, for the access log, how many records were scored and by which versions."""
    environ[_RECORDS] = size
    environ[_VERSIONS] = versions


def write(
    environ: dict[str, Any],
    method: str,
    client: str | None,
    request_id: str,
    route: str,
    status: int,
    wall: float,
    seconds: float,
) -> None:
    """Write an HTTP request's line (what the request's `environ` noted of its prediction)."""
    versions = environ.get(_VERSIONS, {})
    _emit(
        {
            "timestamp": _timestamp(wall),
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "records": environ.get(_RECORDS, 0),
            "model_versions": {name: str(v) for name, v in versions.items()},
            "client": client,
        }
    )


def write_call(
    method: str,
    code: str,
    client: str | None,
    request_id: str,
    wall: float,
    seconds: float,
    records: int,
    versions: dict[str, int],
) -> None:
    """Write a gRPC call's line: its full method name as the route, its status code's name."""
    _emit(
        {
            "timestamp": _timestamp(wall),
            "request_id": request_id,
            "protocol": "grpc",
            "route": method,
            "grpc_code": code,
            "duration_ms": round(seconds * 1000, 3),
            "records": records,
            "model_versions": {name: str(v) for name, v in versions.items()},
            "client": client,
        }
    )


def _timestamp(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def _emit(entry: dict[str, Any]) -> None:
    try:
        sys.stdout.write(orjson.dumps(entry).decode() + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed or broken stdout must not fail the request
        pass
