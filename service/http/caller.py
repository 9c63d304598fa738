"""The current request's caller (service.callers.Caller): its id and the key it presented."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request

from service.callers import Caller
from service.http import request_id

# Said on an answer that repeats the decisions on record for a request sent again (the name
# Stripe's API uses for the same thing).
REPLAYED_HEADER = "Idempotent-Replayed"

_KEY_ID, _READS_ALL, _NAME = "service.key_id", "service.reads_all", "service.key_name"
_KEYS_REQUIRED = "SERVICE_KEYS_REQUIRED"


def require_keys(app: Flask) -> None:
    """Say that the app requires keys: a request no key was checked for then reads nothing."""
    app.config[_KEYS_REQUIRED] = True


def authenticated(environ: dict[str, Any], key_id: str, reads_all: bool, name: str = "") -> None:
    """Say which configured key the request presented, and its holder's name (service.http.auth)."""
    environ[_KEY_ID], environ[_READS_ALL], environ[_NAME] = key_id, reads_all, name


def replay_marked(response: Response, replayed: bool) -> Response:
    """Mark an answer that repeats decisions already on record."""
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def current() -> Caller:
    """The caller of the current request: without keys configured, anonymous and reading all."""
    environ = request.environ
    reads_all = environ.get(_READS_ALL, not current_app.config.get(_KEYS_REQUIRED, False))
    return Caller(
        request_id.current(), environ.get(_KEY_ID), reads_all, name=environ.get(_NAME, "")
    )
