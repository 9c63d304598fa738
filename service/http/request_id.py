"""Every request's id: the caller's `X-Request-ID` when it is a plausible id, else a new one."""

from __future__ import annotations

import os
import re

from flask import Request, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")  # anything else is replaced, not echoed
_KEY = "service.request_id"


def assign(incoming: Request) -> str:
    """Give the request its id (kept in the WSGI environ) and return it."""
    offered = incoming.environ.get("HTTP_X_REQUEST_ID", "")
    incoming.environ[_KEY] = offered if _VALID_ID.fullmatch(offered) else _new_id()
    return str(incoming.environ[_KEY])


def is_request_id(text: str) -> bool:
    """Whether `text` could be a request's id (as offered by a caller or made here)."""
    return _VALID_ID.fullmatch(text) is not None


def _new_id() -> str:
    """A random 128-bit id in hex, as uuid4().hex but without building a UUID object."""
    return os.urandom(16).hex()


def ensure(environ: dict[str, object]) -> str:
    """Return the id of the request with this environ, giving it one if it has none yet."""
    if _KEY not in environ:  # a request refused before the hooks ran
        environ[_KEY] = _new_id()
    return str(environ[_KEY])


def current() -> str:
    """Return the current request's id ("-" outside a request)."""
    return str(request.environ.get(_KEY, "-")) if has_request_context() else "-"
