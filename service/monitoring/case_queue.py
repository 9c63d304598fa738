"""Scrape-time metrics of the underwriters' queue: cases waiting by state, and how long the
oldest has waited.

Read from the decision store when Prometheus scrapes (every worker shares the store, so any
worker's answer is the whole queue's), not kept in prometheus_client's files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CASES = "underwriting_cases"
OLDEST_CASE_AGE = "underwriting_case_oldest_age_seconds"


class CaseQueueCollector(Collector):
    """Cases by state, and the age of the oldest in each."""

    def __init__(self, waiting: Callable[[], dict[str, tuple[int, str | None]]]) -> None:
        # The dataplane's reading: under its lock (the store's connection is shared).
        self.waiting = waiting

    def collect(self) -> Iterable[Metric]:
        # A store that cannot be read costs these gauges only, never the whole scrape.
        try:
            waiting = self.waiting()
        except Exception:
            log.warning("the case queue could not be read for the metrics; the others are served")
            return
        cases = GaugeMetricFamily(
            CASES, "Cases waiting for an underwriter, by state (open, assigned).", labels=["state"]
        )
        oldest = GaugeMetricFamily(
            OLDEST_CASE_AGE,
            "How long the oldest case in each state has waited since it opened (0: none).",
            labels=["state"],
        )
        now = datetime.now(UTC)
        for state, (count, opened_at) in waiting.items():
            cases.add_metric([state], count)
            age = 0.0 if opened_at is None else (now - _moment(opened_at)).total_seconds()
            oldest.add_metric([state], round(max(age, 0.0), 3))
        yield from (cases, oldest)


def _moment(stamp: str) -> datetime:
    """A store's timestamp (`2026-12-08T02:56:05.123456Z`) as a moment."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
