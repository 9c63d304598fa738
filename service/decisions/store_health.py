"""Whether the decision store can write now: what readiness, the metrics and the log say.

A worker learns it from its own writes (a decision that could not be recorded) and from a probe
(a one-row write) that readiness runs, at most every PROBE_INTERVAL_SECONDS while the store
works and every FAILING_PROBE_INTERVAL_SECONDS while it fails: a replica whose store fails
stops receiving traffic within a probe, and receives it again once a probe writes. A failed
read is logged (at the same pace) but says nothing of writing.
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
FAILING_PROBE_INTERVAL_SECONDS = 0.1  # a floor: a probe may wait on a connection timeout


def failure_kind(exc: BaseException) -> str:
    """A failure's kind: its class and the first line of the driver's message (no values:
    the store's messages name files, tables and constraints, never an applicant's data)."""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class StoreHealth:
    """One worker's view of its decision store: whether it writes, as last seen."""

    def __init__(
        self,
        store: DecisionStore,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROBE_INTERVAL_SECONDS,
    ) -> None:
        self.store, self.clock, self.interval = store, clock, interval
        self.failures = RepeatedFailures(log, clock=clock)
        self.failing = False
        self._probed_at = float("-inf")
        # Labelled, so that a worker says nothing until it has seen its store (a fresh
        # unlabelled gauge would read 0 in every worker that has not probed yet).
        self._up = metrics.DECISION_STORE_UP.labels(store.dialect)

    def wrote(self) -> None:
        """A write succeeded: the store works (again)."""
        if self.failing:
            self.failing = False
            self.failures.recovered("the decision record store records decisions again")
        self._up.set(1)

    def failed(self, exc: BaseException, what: str) -> None:
        """A write failed: drop the connection (the next use opens a new one) and say so."""
        self.store.close()
        self.failing = True
        self._up.set(0)
        kind = failure_kind(exc)
        self.failures.failed(kind, f"the decision record store failed {what}: {kind}", exc)

    def read_failed(self, exc: BaseException) -> None:
        """A read failed: drop the connection and log it; writing may still work."""
        self.store.close()
        kind = failure_kind(exc)
        message = f"the decision record store failed to read decisions: {kind}"
        self.failures.failed(f"read: {kind}", message, exc)

    def writable(self) -> bool:
        """Whether the store can write, probed now unless a probe ran within the interval."""
        now = self.clock()
        interval = FAILING_PROBE_INTERVAL_SECONDS if self.failing else self.interval
        if now - self._probed_at >= min(interval, self.interval):
            self._probed_at = now
            try:
                self.store.probe()
            except Exception as exc:
                self.failed(exc, "a readiness probe")
            else:
                self.wrote()
        return not self.failing
