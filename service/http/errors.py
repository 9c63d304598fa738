"""Domain errors that carry their HTTP status, and the one handler that renders every error.

Every error response, whichever route or layer raised it (including Flask's own 404/405/413 and
unexpected exceptions), has the body `{"error": "<one-line summary>", "details": {...}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from service.http import request_id
from service.http.json_io import json_response

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error a client can act on: a status code, a summary and structured details."""

    status = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(ServiceError):
    """The request body is malformed or fails validation."""

    status = 400


class NotFound(ServiceError):
    """Unknown route, model or version."""

    status = 404


class PayloadTooLarge(ServiceError):
    """Too many bytes or too many records in one request."""

    status = 413


class UnsupportedMediaType(ServiceError):
    """The request body is not declared as JSON."""

    status = 415


class ModelFailure(ServiceError):
    """A model gave an answer that breaks its declaration (logged; the client sees a 500)."""

    status = 500


class NotReady(ServiceError):
    """No usable model version is loaded (yet)."""

    status = 503


class NotRecorded(ServiceError):
    """The decision record store failed: a decision is not given, a record cannot be read."""

    status = 503


def error_response(status: int, message: str, details: dict[str, Any] | None = None) -> Response:
    """Render the error envelope."""
    return json_response({"error": message, "details": details or {}}, status)


def _service_error(exc: ServiceError) -> Response:
    return error_response(exc.status, exc.message, exc.details)


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
