"""HTTP request metrics by method, route template and status, with bounded labels.

Children are cached by their label values: a `labels()` lookup costs a few microseconds, and the
label space is small and fixed (standard methods, route templates, status codes).
"""

from __future__ import annotations

from typing import Any

from flask import Request

from service.observability import metrics

UNMATCHED = "unmatched"  # the route label of requests no rule matched (bounded: never the path)
# gunicorn passes any upper-case token as a method: a client could mint one series per token.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
OTHER_METHOD = "other"
_counters: dict[tuple[str, str, str], Any] = {}
_durations: dict[tuple[str, str], Any] = {}
_records: dict[str, Any] = {}


def route_label(request: Request) -> str:
    """Return the matched route template, never the raw path (bounded label values)."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def method_label(request: Request) -> str:
    """Return the request method if it is a standard one, else "other" (bounded label values)."""
    return request.method if request.method in METHODS else OTHER_METHOD


def count(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and observe its duration."""
    key = (method, route, str(status))
    counter = _counters.get(key)
    if counter is None:
        counter = _counters[key] = metrics.HTTP_REQUESTS.labels(*key)
    counter.inc()
    duration = _durations.get(key[:2])
    if duration is None:
        duration = _durations[key[:2]] = metrics.HTTP_REQUEST_DURATION.labels(method, route)
    duration.observe(seconds)


def observe_records(route: str, size: int) -> None:
    """Observe how many records a prediction request carried."""
    child = _records.get(route)
    if child is None:
        child = _records[route] = metrics.REQUEST_RECORDS.labels(route)
    child.observe(size)
