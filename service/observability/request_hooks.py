"""One hook before and one after every request: its id, its timing, its metrics, its log line;
and what a scored request adds to them (`record_scored`, called by the protocols).

One pair of hooks instead of one per concern: each access to Flask's `request` proxy costs about
a microsecond and a half, so the hooks take the request object once.
"""

from __future__ import annotations

import time

from flask import Flask, Response, request

from service.http import request_id
from service.observability import access_log, http_metrics

_START, _WALL = "service.request_start", "service.request_wall"


def install(app: Flask) -> None:
    """Give every request an id; count, time and log it once the response is ready."""

    @app.before_request
    def _begin() -> None:
        current = request._get_current_object()  # type: ignore[attr-defined]
        environ = current.environ
        request_id.assign(current)
        environ[_WALL] = time.time()
        environ[_START] = time.perf_counter()

    @app.after_request
    def _end(response: Response) -> Response:
        current = request._get_current_object()  # type: ignore[attr-defined]
        environ = current.environ
        start = environ.get(_START)
        seconds = time.perf_counter() - start if start is not None else 0.0
        route = http_metrics.route_label(current)
        status = response.status_code
        http_metrics.count(http_metrics.method_label(current), route, status, seconds)
        identifier = request_id.ensure(environ)
        response.headers[request_id.REQUEST_ID_HEADER] = identifier
        wall = environ.get(_WALL) or time.time()
        access_log.write(
            environ, current.method, current.remote_addr, identifier, route, status, wall, seconds
        )
        return response


def record_scored(size: int, versions: dict[str, int]) -> None:
    """Observe the request's record count by route; tell the access log what was scored."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    http_metrics.observe_records(http_metrics.route_label(current), size)
    access_log.note_prediction(current.environ, size, versions)
