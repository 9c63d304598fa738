"""Every request's id: the caller's `X-Request-ID` when it is a plausible id, else a new one."""

from __future__ import annotations

from flask import Request, has_request_context, request

from service.request_ids import new_request_id, request_id_from

REQUEST_ID_HEADER = "X-Request-ID"
_KEY = "service.request_id"


def assign(incoming: Request) -> str:
    """Give the request its id (kept in the WSGI environ) and return it."""
    offered = incoming.environ.get("HTTP_X_REQUEST_ID", "")
    incoming.environ[_KEY] = request_id_from(offered)
    return str(incoming.environ[_KEY])


def ensure(environ: dict[str, object]) -> str:
    """Return the id of the request with this environ, giving it one if it has none yet."""
    if _KEY not in environ:  # a request refused before the hooks ran
        environ[_KEY] = new_request_id()
    return str(environ[_KEY])


def current() -> str:
    """Return the current request's id ("-" outside a request)."""
    return str(request.environ.get(_KEY, "-")) if has_request_context() else "-"
