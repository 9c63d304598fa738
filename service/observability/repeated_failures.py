"""Log a failure that repeats once per interval with a count, not a line per request.

A store that cannot write fails every request that needs it: thousands of identical tracebacks
a second would bury everything else in the log. The first failure of a kind is logged with its
traceback; the same kind again within the interval is only counted, and the count is logged
with the next failure after the interval or when the failures end. A failure that comes and
goes (a flapping store) is held to the same pace: a kind is remembered across recoveries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG_INTERVAL_SECONDS = 10.0
KINDS_KEPT = 64  # distinct kinds remembered (the oldest is forgotten first)


@dataclass
class _Seen:
    logged_at: float
    unlogged: int = 0  # failures since the last line


class RepeatedFailures:
    """One logger's failures by kind: at most one line per kind per interval."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.interval, self.clock = logger, interval, clock
        self._seen: dict[str, _Seen] = {}
        self._recovery_logged_at = float("-inf")
        self.failing = False  # since the last failure, nothing has recovered

    def failed(self, kind: str, message: str, exc: BaseException | None = None) -> None:
        """Count a failure of a kind; log it if it is new, or the interval has passed."""
        self.failing = True
        now = self.clock()
        seen = self._seen.pop(kind, None)
        if seen is not None and now - seen.logged_at < self.interval:
            seen.unlogged += 1
        elif seen is None:
            self.logger.error("%s", message, exc_info=exc)
            seen = _Seen(now)
        else:
            times = seen.unlogged + 1
            since = now - seen.logged_at
            self.logger.error("%s (%d times in the last %.0f s)", message, times, since)
            seen = _Seen(now)
        self._seen[kind] = seen  # the newest last: the oldest is forgotten first
        if len(self._seen) > KINDS_KEPT:
            del self._seen[next(iter(self._seen))]

    def recovered(self, message: str) -> None:
        """The failures ended: say so (at most once per interval) with what was not logged."""
        if not self.failing:
            return
        self.failing = False
        now = self.clock()
        if now - self._recovery_logged_at < self.interval:
            return
        self._recovery_logged_at = now
        counted = ", ".join(f"{k}: {s.unlogged} more" for k, s in self._seen.items() if s.unlogged)
        for seen in self._seen.values():
            seen.unlogged = 0
        detail = f" ({counted} since the last report)" if counted else ""
        self.logger.warning("%s%s", message, detail)
