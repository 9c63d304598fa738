"""Log a failure that repeats once per interval with a count, not a line per request.

A store that cannot write fails every request that needs it: thousands of identical tracebacks
a second would bury everything else in the log. The first failure of a kind is logged with its
traceback; the same kind again within the interval is only counted, and the count is logged
with the next failure after the interval or when the failures end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG_INTERVAL_SECONDS = 10.0


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

    def failed(self, kind: str, message: str, exc: BaseException | None = None) -> None:
        """Count a failure of a kind; log it if it is the first, or the interval has passed."""
        now = self.clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen.logged_at < self.interval:
            seen.unlogged += 1
            return
        if seen is None:
            self.logger.error("%s", message, exc_info=exc)
        else:
            repeated = seen.unlogged + 1
            self.logger.error(
                "%s (%d times in the last %.0f s)", message, repeated, now - seen.logged_at
            )
        self._seen[kind] = _Seen(now)

    def recovered(self, message: str) -> None:
        """The failures ended: log what was not logged yet, once, and forget them."""
        if not self._seen:
            return
        counted = ", ".join(
            f"{kind}: {seen.unlogged} more" for kind, seen in self._seen.items() if seen.unlogged
        )
        self.logger.warning(
            "%s%s", message, f" ({counted} since the last report)" if counted else ""
        )
        self._seen.clear()

    @property
    def failing(self) -> bool:
        return bool(self._seen)
