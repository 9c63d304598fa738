"""Count and time every HTTP request by method, route template and status."""

from __future__ import annotations

import time

from flask import Flask, Response, request

from service.observability import metrics

_START = "service.request_start"
UNMATCHED = "unmatched"  # the route label of requests no rule matched (bounded: never the path)
# gunicorn passes any upper-case token as a method: a client could mint one series per token.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
OTHER_METHOD = "other"


def route_label() -> str:
    """Return the matched route template, never the raw path (bounded label values)."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def method_label() -> str:
    """Return the request method if it is a standard one, else "other" (bounded label values)."""
    return request.method if request.method in METHODS else OTHER_METHOD


def install(app: Flask) -> None:
    """Register the hooks that time and count each request."""

    @app.before_request
    def _start_timer() -> None:
        request.environ[_START] = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        start = request.environ.get(_START)
        method, route = method_label(), route_label()
        metrics.HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        if start is not None:
            metrics.HTTP_REQUEST_DURATION.labels(method, route).observe(time.perf_counter() - start)
        return response
