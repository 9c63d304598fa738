"""A failing decision store: logged at a bounded pace, seen by readiness, recovered from.

Over a real SQLite file (no model, no server): a store whose directory is a file cannot open.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service.decisions.store import SQLiteStore
from service.decisions.store_health import StoreHealth
from service.observability.repeated_failures import RepeatedFailures


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_repeated_failure_is_logged_once_per_interval_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    failures = RepeatedFailures(logging.getLogger("test.failures"), interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, "test.failures"):
        for _ in range(500):  # a second of refused requests
            failures.failed("disk full", "the store failed: disk full", ValueError("full"))
            clock.now += 0.002
        assert lines(caplog) == ["the store failed: disk full"]
        assert caplog.records[0].exc_info is not None  # the first one with its traceback
        failures.failed("locked", "the store failed: locked")  # another kind: its own line
        clock.now += 10.0
        failures.failed("disk full", "the store failed: disk full")
        assert lines(caplog)[1:] == [
            "the store failed: locked",
            "the store failed: disk full (500 times in the last 11 s)",
        ]
        assert caplog.records[-1].exc_info is None


def test_a_flapping_failure_keeps_the_same_pace(caplog: pytest.LogCaptureFixture) -> None:
    """Failing and recovering request after request must not log a traceback each time."""
    clock = Clock()
    failures = RepeatedFailures(logging.getLogger("test.flapping"), interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, "test.flapping"):
        for _ in range(100):
            failures.failed("timeout", "the store failed: timeout")
            failures.recovered("the store records again")
            clock.now += 0.01
        assert lines(caplog) == ["the store failed: timeout", "the store records again"]
        clock.now += 10.0
        failures.failed("timeout", "the store failed: timeout")
        failures.recovered("the store records again")
        assert lines(caplog)[2:] == [
            "the store failed: timeout (100 times in the last 11 s)",
            "the store records again",
        ]


def test_readiness_sees_a_store_that_cannot_write_and_its_recovery(tmp_path: Path) -> None:
    blocked = tmp_path / "volume"
    blocked.write_text("a file where the store's directory should be")
    store = SQLiteStore(blocked / "decisions.sqlite3", retention_days=30)
    clock = Clock()
    health = StoreHealth(store, clock=clock)
    assert not health.writable() and health.failing
    blocked.unlink()  # the volume is back
    assert not health.writable()  # within the failing floor (0.1 s): not probed again yet
    clock.now += 0.1
    assert health.writable() and not health.failing
    store.close()


def test_a_failed_read_says_nothing_of_writing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "decisions.sqlite3", retention_days=30)
    health = StoreHealth(store, clock=Clock())
    assert health.writable()
    health.read_failed(RuntimeError("a read timed out"))
    assert not health.failing and health.writable()
    store.close()
