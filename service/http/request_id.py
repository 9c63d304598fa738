"""Every request's id: the caller's `X-Request-ID` when it is a plausible id, else a new one."""

from __future__ import annotations

import re
import uuid

from flask import Request, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")  # anything else is replaced, not echoed
_KEY = "service.request_id"


def assign(incoming: Request) -> str:
    """Give the request its id (kept in the WSGI environ) and return it."""
    offered = incoming.headers.get(REQUEST_ID_HEADER, "")
    incoming.environ[_KEY] = offered if _VALID_ID.fullmatch(offered) else uuid.uuid4().hex
    return str(incoming.environ[_KEY])


def ensure(environ: dict[str, object]) -> str:
    """Return the id of the request with this environ, giving it one if it has none yet."""
    return str(environ.setdefault(_KEY, uuid.uuid4().hex))


def current() -> str:
    """Return the current request's id ("-" outside a request)."""
    return str(request.environ.get(_KEY, "-")) if has_request_context() else "-"
