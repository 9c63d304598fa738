"""Domain errors mapped to gRPC status codes: the one place the gRPC wire says what they mean.

The message is the REST envelope's one-line summary; its `details` (which fields, which
records) travel as JSON in the `error-details` trailing metadata, so a client can act on them
as a REST client does on the envelope's.
"""

from __future__ import annotations

import json
from typing import NoReturn

import grpc

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

DETAILS_KEY = "error-details"

STATUS: dict[type[ServiceError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.ALREADY_EXISTS,
    TooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UnsupportedMediaType: grpc.StatusCode.INVALID_ARGUMENT,
    ModelFailure: grpc.StatusCode.INTERNAL,
    NotReady: grpc.StatusCode.UNAVAILABLE,
    NotRecorded: grpc.StatusCode.UNAVAILABLE,
    NotAuthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def abort_with(
    context: grpc.ServicerContext,
    error: ServiceError,
    trailing: tuple[tuple[str, str], ...] = (),
) -> NoReturn:
    """End the call with the error's status, summary and details (and `trailing` metadata)."""
    code = STATUS.get(type(error), grpc.StatusCode.INTERNAL)
    details = json.dumps(error.details, separators=(",", ":"), ensure_ascii=True)
    context.set_trailing_metadata(((DETAILS_KEY, details), *trailing))
    context.abort(code, error.message)
    raise AssertionError("grpc's abort returns only by raising")  # pragma: no cover
