"""Who sent a request, whichever protocol carried it: the request's id, the API key's id, and
how long the sender waits for the answer.

The request id is the idempotency key of the request's decisions (sent again, the request is
answered with the decisions on record); the key id says whose decisions a caller may read. A
key id is a prefix of the key's sha256, never the key: the same id the service logs at start.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from service.request_ids import new_request_id

KEY_ID_DIGITS = 16  # 64 bits of the key's digest: unique among any operator's keys


def key_id(key: str) -> str:
    """The id a key is recorded and configured by: the first hex digits of its sha256."""
    return hashlib.sha256(key.encode()).hexdigest()[:KEY_ID_DIGITS]


@dataclass(frozen=True)
class Caller:
    """The sender of one request, as its decisions record it and as reading them checks it."""

    request_id: str = field(default_factory=new_request_id)
    key_id: str | None = None  # None: the service requires no keys
    reads_all: bool = False  # may read every caller's decisions (no keys, or a reader's key)
    deadline: float | None = None  # time.monotonic() past which the sender no longer waits
    name: str = ""  # the key holder's name, as a case's history shows it (else the key's id)

    def may_read(self, recorded_key_id: str | None) -> bool:
        """Whether this caller may read a decision the given key made."""
        return self.reads_all or (self.key_id is not None and recorded_key_id == self.key_id)

    @property
    def shown(self) -> str:
        """Who the caller is, as a case's history records it."""
        return self.name or self.key_id or "anonymous"

    def gone(self) -> bool:
        """Whether the sender's deadline has passed (it will not read an answer)."""
        return self.deadline is not None and time.monotonic() >= self.deadline
