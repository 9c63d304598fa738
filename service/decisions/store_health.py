"""Whether the decision store can write now: what readiness, the metrics and the log say.

A worker learns it from its own writes (a decision that could not be recorded) and from a probe
(a one-row write) that readiness runs, at most every PROBE_INTERVAL_SECONDS while the store
works: a replica whose store fails stops receiving traffic within a probe, and receives it
again once a probe writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from service.decisions.store import DecisionStore
from service.observability import metrics
from service.observability.repeated_failures import RepeatedFailures

log = logging.getLogger(__name__)
PROBE_INTERVAL_SECONDS = 0.5


def failure_kind(exc: BaseException) -> str:
    """A failure's kind: its class and the first line of the driver's message (no values:
    the store's messages name files, tables and constraints, never an applicant's data)."""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class StoreHealth:
    """One worker's view of its decision store: failing or not, and since when it was seen."""

    def __init__(
        self,
        store: DecisionStore,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROBE_INTERVAL_SECONDS,
    ) -> None:
        self.store, self.clock, self.interval = store, clock, interval
        self.failures = RepeatedFailures(log)
        self._probed_at = float("-inf")

    @property
    def failing(self) -> bool:
        return self.failures.failing

    def wrote(self) -> None:
        """A write succeeded: the store works (again)."""
        if self.failures.failing:
            self.failures.recovered("the decision record store records decisions again")
        metrics.DECISION_STORE_UP.set(1)

    def failed(self, exc: BaseException, what: str) -> None:
        """A write failed: drop the connection (the next use opens a new one) and say so."""
        self.store.close()
        metrics.DECISION_STORE_UP.set(0)
        kind = failure_kind(exc)
        self.failures.failed(kind, f"the decision record store failed {what}: {kind}", exc)

    def writable(self) -> bool:
        """Whether the store can write: probed now, unless the store works and a probe ran in
        the last interval (a failing store is probed at every ask: recovery shows at once)."""
        now = self.clock()
        if self.failing or now - self._probed_at >= self.interval:
            self._probed_at = now
            try:
                self.store.probe()
            except Exception as exc:
                self.failed(exc, "a readiness probe")
            else:
                self.wrote()
        return not self.failures.failing
