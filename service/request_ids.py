"""What a request id may be, whichever protocol carried it: the caller's, if plausible, or new."""

from __future__ import annotations

import os
import re

_VALID_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")  # anything else is replaced, not echoed


def is_request_id(text: str) -> bool:
    """Whether `text` could be a request's id (as offered by a caller or made here)."""
    return _VALID_ID.fullmatch(text) is not None


def new_request_id() -> str:
    """A random 128-bit id in hex, as uuid4().hex but without building a UUID object."""
    return os.urandom(16).hex()


def request_id_from(offered: str) -> str:
    """The caller's id when it is plausible, else a new one."""
    return offered if is_request_id(offered) else new_request_id()
