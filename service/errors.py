"""The errors a client can act on, raised below the wire protocols: no HTTP, no Flask.

Each protocol maps them to its own wire (service.http.errors to status codes and the JSON
envelope); the message is one line a client can read, the details name fields, never values.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error a client can act on: a summary and structured details."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(ServiceError):
    """The request is malformed or fails validation."""


class NotFound(ServiceError):
    """Unknown model, version or record."""


class Conflict(ServiceError):
    """The request clashes with what is on record (a request id used for other decisions)."""


class TooLarge(ServiceError):
    """A request body too large to read: too many bytes, or more keys than any valid request."""


class UnsupportedMediaType(ServiceError):
    """The request body is not in a format the service reads."""


class ModelFailure(ServiceError):
    """A model gave an answer that breaks its declaration (logged; not the client's fault)."""


class NotReady(ServiceError):
    """No usable model version is loaded (yet), or the instance is shutting down."""


class NotRecorded(ServiceError):
    """The decision record store failed: a decision is not given, a record cannot be read."""


class NotAuthenticated(ServiceError):
    """Keys are required and the request presented none, or one that is not configured."""


class Forbidden(ServiceError):
    """The caller is known, but may not do this (its key's role, or another's case)."""


class DeadlineExceeded(ServiceError):
    """The caller's deadline passed before the request was decided: nothing is recorded."""
