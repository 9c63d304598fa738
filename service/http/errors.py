"""Domain errors mapped to HTTP statuses, and the one handler that renders every error.

Every error response, whichever route or layer raised it (including Flask's own 404/405/413 and
unexpected exceptions), has the body `{"error": "<one-line summary>", "details": {...}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from service.errors import (
    Conflict,
    DeadlineExceeded,
    Forbidden,
    InvalidInput,
    ModelFailure,
    NotAuthenticated,
    NotFound,
    NotReady,
    NotRecorded,
    ServiceError,
    TooLarge,
    UnsupportedMediaType,
)
from service.http import request_id
from service.http.json_io import json_response

log = logging.getLogger(__name__)


# Each domain error's status code: the one place the HTTP wire says what an error means.
STATUS: dict[type[ServiceError], int] = {
    InvalidInput: 400,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    ModelFailure: 500,
    NotReady: 503,
    NotRecorded: 503,
    NotAuthenticated: 401,
    Forbidden: 403,
    DeadlineExceeded: 504,
}


def status_of(exc: ServiceError) -> int:
    """The status code of a domain error (its nearest mapped class; 500 if none)."""
    return next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), 500)


def error_response(status: int, message: str, details: dict[str, Any] | None = None) -> Response:
    """Render the error envelope."""
    return json_response({"error": message, "details": details or {}}, status)


def _service_error(exc: ServiceError) -> Response:
    return error_response(status_of(exc), exc.message, exc.details)


def _http_exception(exc: HTTPException) -> Response:
    """Render werkzeug's errors (404 route, 405, 413 body size) in the envelope."""
    status = exc.code or 500
    details: dict[str, Any] = {}
    response = exc.get_response()
    allowed = response.headers.get("Allow")
    if allowed:
        # werkzeug lists a set, whose order changes between processes: sort for stable bodies.
        methods = sorted(m.strip() for m in allowed.split(","))
        details["allowed_methods"] = methods
        allowed = ", ".join(methods)
    message = f"{exc.name}: {exc.description}"
    limit = request.max_content_length if status == 413 else None
    if limit is not None:
        message = f"Request body too large: at most {limit} bytes (SERVICE_MAX_BODY_BYTES)"
        details["max_body_bytes"] = limit
    rendered = error_response(status, message, details)
    if allowed:
        rendered.headers["Allow"] = allowed
    return rendered


def _unexpected(exc: Exception) -> Response:
    """Log an unexpected failure with its traceback; tell the client no more than needed."""
    log.exception("unhandled error in request %s: %s", request_id.current(), exc)
    return error_response(500, "Internal server error: the failure was logged")


def register_error_handlers(app: Flask) -> None:
    """Make every error, raised anywhere in the app, render as the envelope."""
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
