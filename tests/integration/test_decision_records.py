"""The decision record store, on SQLite and on a real PostgreSQL: append-only, chained, durable,
one record per key (request id, index), readable while it cannot be written, listed by time.

Both backends run every test; PostgreSQL is started by the test on a free loopback port.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from postgres_support import postgres_server
from tool_support import fill, small_file_system

from service.callers import Caller
from service.decisions.case_book import CaseBook, Queue
from service.decisions.cases import AUDIT, REFERRAL, CaseOpening
from service.decisions.listing import Listing
from service.decisions.store import (
    GENESIS,
    DecisionEntry,
    DecisionStore,
    PostgresStore,
    RequestIdTaken,
    SQLiteStore,
    chain_hash,
    fingerprint,
)
from service.decisions.store_health import StoreHealth
from service.errors import Conflict, Forbidden, NotFound

WRITERS, DECISIONS_EACH = 2, 1_000


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _fresh_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "DROP TABLE IF EXISTS decisions, decision_anchor, decision_store_probe, cases, "
            "case_events"
        )
        connection.execute("ALTER DATABASE postgres RESET default_transaction_read_only")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_factory(request: Any, tmp_path: Path) -> Iterator[Any]:
    """Opens a store on an empty database (each call: another connection to the same one)."""
    opened: list[DecisionStore] = []
    if request.param == "sqlite":
        path = tmp_path / "decisions.sqlite3"

        def factory(**settings: Any) -> DecisionStore:
            opened.append(SQLiteStore(path, **({"retention_days": 30} | settings)))
            return opened[-1]
    else:
        url = request.getfixturevalue("postgres_url")
        _fresh_postgres(url)

        def factory(**settings: Any) -> DecisionStore:
            opened.append(PostgresStore(url, **({"retention_days": 30} | settings)))
            return opened[-1]

    yield factory
    for store in opened:
        store.close()


def decision(
    request_id: str,
    index: int = 0,
    outcome: str = "decline",
    age: int = 40,
    key_id: str | None = None,
    policy_version: int = 1,
    case: str | None = None,
) -> DecisionEntry:
    record = {"age": age + index, "hba1c": 10.5, "tobacco_use": "current"}
    outputs = {"probabilities": [0.2, 0.3, 0.5], "max_coverage": 250000.0}
    opening = None if case is None else CaseOpening(case, record, outputs)
    reasons = [
        {
            "code": "KO01",
            "feature": "hba1c",
            "text": "HbA1c above 10%",
            "value": 10.5,
            "contribution": 0.31,
        }
    ]
    return DecisionEntry(
        request_id,
        index,
        {"risk_class": 3, "max_coverage": 2, "underwriting_policy": policy_version},
        fingerprint(record),
        {
            "outcome": outcome,
            "risk_class": "decline",
            "offer": None,
            "reasons": reasons,
            "rules": [],
            "reasons_complete": True,
            "policy_version": 1,
        },
        key_id,
        opening,
    )


def _raw_execute(store: DecisionStore, *statements: str) -> None:
    """Statements an attacker with database access could run, bypassing the store."""
    connection = store.connection
    for statement in statements:
        connection.execute(statement)
    connection.commit()


def _disabling_append_only(store: DecisionStore) -> str:
    """The statement that lifts the append-only trigger, as an attacker with access would."""
    if isinstance(store, SQLiteStore):
        return "DROP TRIGGER decisions_append_only"
    return "ALTER TABLE decisions DISABLE TRIGGER decisions_append_only"


def test_decisions_come_back_as_stored_and_chain_from_genesis(store_factory: Any) -> None:
    store = store_factory()
    first = store.append([decision("req-1", 0), decision("req-1", 1, "refer")]).rows
    second = store.append([decision("req-2")]).rows
    assert [r["sequence"] for r in first + second] == [1, 2, 3]
    assert first[0]["previous_hash"] == GENESIS
    assert second[0]["previous_hash"] == first[1]["hash"]
    found = store_factory().find("req-1")  # another connection, as another worker would read
    assert found == first
    assert found[1]["decision"]["outcome"] == "refer"
    assert found[0]["decision"]["reasons"][0] == {
        "code": "KO01",
        "feature": "hba1c",
        "text": "HbA1c above 10%",
        "value": 10.5,
        "contribution": 0.31,
    }
    assert found[0]["fingerprint"] == fingerprint(
        {"hba1c": 10.5, "tobacco_use": "current", "age": 40}
    )
    assert store.find("no-such-request") == []
    report = store.verify()
    assert (report.rows, report.first, report.last, report.broken_at) == (3, 1, 3, None)


def test_a_recorded_decision_cannot_be_updated(store_factory: Any) -> None:
    store = store_factory()
    store.append([decision("req-1")])
    with pytest.raises(Exception, match="append-only"):
        _raw_execute(store, "UPDATE decisions SET body = 'x' WHERE sequence = 1")
    store.connection.rollback()
    assert store.verify().broken_at is None


def test_an_edited_body_or_a_removed_row_breaks_the_chain(store_factory: Any) -> None:
    store = store_factory()
    for i in range(5):
        store.append([decision(f"req-{i}")])
    disable = _disabling_append_only(store)
    _raw_execute(
        store,
        disable,
        "UPDATE decisions SET body = replace(body, 'decline', 'accept') WHERE sequence = 3",
    )
    report = store.verify()
    assert report.broken_at == 3 and "changed after it was written" in report.problem
    _raw_execute(store, "DELETE FROM decisions WHERE sequence = 3")
    report = store.verify()
    assert report.broken_at == 4 and "missing" in report.problem


def test_retention_purges_old_records_and_re_anchors_the_chain(store_factory: Any) -> None:
    store = store_factory()
    old = store.append([decision("old-1"), decision("old-2", 1)]).rows
    assert store.purge(now=datetime.now(UTC) + timedelta(days=29)) == 0  # not old enough yet
    assert store.purge(now=datetime.now(UTC) + timedelta(days=31)) == 2
    assert store.find("old-1") == []
    assert store.verify().rows == 0
    new = store.append([decision("new-1")]).rows
    # The chain goes on from the last purged row: nothing can be slipped in at its start.
    assert new[0]["sequence"] == 3 and new[0]["previous_hash"] == old[-1]["hash"]
    report = store.verify()
    assert (report.rows, report.first, report.broken_at) == (1, 3, None)


def _write(args: tuple[str, str, int]) -> int:
    kind, where, writer = args
    store: DecisionStore = (
        SQLiteStore(Path(where), 30) if kind == "sqlite" else PostgresStore(where, 30)
    )
    for i in range(DECISIONS_EACH):
        store.append([decision(f"writer-{writer}-{i}")])
    store.close()
    return DECISIONS_EACH


def test_concurrent_writers_lose_nothing_and_keep_one_chain(store_factory: Any) -> None:
    store = store_factory()
    store.append([decision("first")])  # the schema exists before the writers race
    where = str(store.path) if isinstance(store, SQLiteStore) else store.url
    kind = "sqlite" if isinstance(store, SQLiteStore) else "postgresql"
    with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
        written = pool.map(_write, [(kind, where, w) for w in range(WRITERS)])
    assert sum(written) == WRITERS * DECISIONS_EACH
    report = store.verify()
    assert report.broken_at is None, report.problem
    assert report.rows == 1 + WRITERS * DECISIONS_EACH
    for writer in range(WRITERS):
        assert len(store.find(f"writer-{writer}-{DECISIONS_EACH - 1}")) == 1


RACERS, ROUNDS = 4, 10


def _first_write(args: tuple[str, str, int, float]) -> int:
    """Open a store on a database nobody has set up yet, at the same moment as the others."""
    kind, where, writer, start_at = args
    time.sleep(max(0.0, start_at - time.time()))
    store: DecisionStore = (
        SQLiteStore(Path(where), 30) if kind == "sqlite" else PostgresStore(where, 30)
    )
    store.append([decision(f"racer-{writer}")])
    store.close()
    return 1


def test_workers_starting_together_on_a_fresh_database_all_record(
    store_factory: Any, tmp_path: Path
) -> None:
    """gunicorn's workers connect first at the same moment: the set-up must not refuse any.

    Raced ten times over, each on a database nobody has set up (the race lost about one round
    in eight when SQLite's switch to WAL was not retried).
    """
    probe = store_factory()
    kind = "sqlite" if isinstance(probe, SQLiteStore) else "postgresql"
    with multiprocessing.get_context("spawn").Pool(RACERS) as pool:
        pool.map(time.sleep, [0.0] * RACERS)  # every process started and ready
        for race in range(ROUNDS):
            if kind == "sqlite":
                where = str(tmp_path / f"race-{race}.sqlite3")
            else:
                where = probe.url
                _fresh_postgres(where)
            start_at = time.time() + 0.5
            written = pool.map(_first_write, [(kind, where, w, start_at) for w in range(RACERS)])
            assert sum(written) == RACERS
            store = SQLiteStore(Path(where), 30) if kind == "sqlite" else PostgresStore(where, 30)
            report = store.verify()
            store.close()
            assert report.broken_at is None and report.rows == RACERS, (race, report.problem)


def test_the_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d.sqlite3", 30)
    store.append([decision("req")])
    with sqlite3.connect(tmp_path / "d.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = store.find("req")[0]
    body = {k: v for k, v in row.items() if k not in ("previous_hash", "hash")}
    from service.decisions.store import body_text

    assert row["hash"] == chain_hash(GENESIS, body_text(body))


def test_a_request_sent_again_is_answered_from_the_record_and_writes_nothing(
    store_factory: Any,
) -> None:
    store = store_factory()
    sent = [decision("retried", 0, key_id="k1"), decision("retried", 1, key_id="k1")]
    first = store.append(sent)
    again = store_factory().append(sent)  # another worker, as the front's retry reaches one
    assert not first.replayed and again.replayed
    assert again.rows == first.rows
    assert store.verify().rows == 2


@pytest.mark.parametrize(
    "other",
    [
        pytest.param([decision("used", age=55, key_id="k1")], id="another applicant"),
        pytest.param([decision("used", key_id="k2")], id="another caller"),
        pytest.param([decision("used", key_id="k1", policy_version=2)], id="other versions"),
        pytest.param(
            [decision("used", key_id="k1"), decision("used", 1, key_id="k1")], id="more records"
        ),
    ],
)
def test_a_used_request_id_with_other_decisions_is_refused_and_nothing_is_written(
    store_factory: Any, other: list[DecisionEntry]
) -> None:
    store = store_factory()
    recorded = store.append([decision("used", key_id="k1")]).rows
    with pytest.raises(RequestIdTaken):
        store_factory().append(other)
    assert store.find("used") == recorded
    assert store.verify().rows == 1


def test_the_store_itself_refuses_a_second_record_under_one_key(store_factory: Any) -> None:
    """The key is unique in the database, not only in the service's code."""
    store = store_factory()
    store.append([decision("keyed")])
    with pytest.raises(Exception, match="(?i)unique"):
        _raw_execute(
            store,
            "INSERT INTO decisions (sequence, request_id, record_index, decided_at, body, "
            "previous_hash, hash) VALUES (99, 'keyed', 0, 'x', '{}', 'x', 'x')",
        )


def test_a_store_holding_repeated_keys_from_before_keeps_them_and_refuses_new_ones(
    store_factory: Any,
) -> None:
    """Records written before keys were unique may repeat one: they stay (the chain holds
    them), the unique index covers everything after them."""
    store = store_factory()
    store.append([decision("before-1")])
    store.append([decision("before-2")])
    # The second record is put under the first's key, as an older version could record it.
    disable = _disabling_append_only(store)
    _raw_execute(
        store,
        "DROP INDEX decisions_key",
        disable,
        "UPDATE decisions SET request_id = 'before-1' WHERE sequence = 2",
    )
    store.close()
    reopened = store_factory()
    assert len(reopened.find("before-1")) == 2  # kept, not rewritten
    reopened.append([decision("after")])
    with pytest.raises(RequestIdTaken):
        reopened.append([decision("before-1", age=70)])
    with pytest.raises(Exception, match="(?i)unique"):
        _raw_execute(
            reopened,
            "INSERT INTO decisions (sequence, request_id, record_index, decided_at, body, "
            "previous_hash, hash) VALUES (99, 'after', 0, 'x', '{}', 'x', 'x')",
        )


def _send(args: tuple[str, str, float]) -> bool:
    """Append one request's decision at a given moment; say whether it was a replay."""
    kind, where, start_at = args
    store: DecisionStore = (
        SQLiteStore(Path(where), 30) if kind == "sqlite" else PostgresStore(where, 30)
    )
    assert store.connection is not None  # connected before the moment, as a worker is
    time.sleep(max(0.0, start_at - time.time()))
    replayed = store.append([decision("raced", key_id="k1")]).replayed
    store.close()
    return replayed


def test_workers_racing_with_the_same_request_record_it_once(store_factory: Any) -> None:
    store = store_factory()
    store.append([decision("first")])
    where = str(store.path) if isinstance(store, SQLiteStore) else store.url
    kind = "sqlite" if isinstance(store, SQLiteStore) else "postgresql"
    with multiprocessing.get_context("spawn").Pool(RACERS) as pool:
        pool.map(time.sleep, [0.0] * RACERS)  # every process started and ready
        start_at = time.time() + 0.5
        replays = pool.map(_send, [(kind, where, start_at)] * RACERS)
    assert sorted(replays) == [False] + [True] * (RACERS - 1)
    assert len(store.find("raced")) == 1
    assert store.verify().broken_at is None


def test_a_store_on_a_read_only_file_system_reads_and_readiness_says_it_cannot_write() -> None:
    """A volume remounted read-only: the decisions stay readable and verifiable, every write
    fails (the probe too, so readiness answers 503), and all works again once it is writable."""
    with small_file_system() as disk:
        store = SQLiteStore(disk / "decisions.sqlite3", 30)
        written = store.append([decision("kept-1"), decision("kept-1", 1)]).rows
        store.close()  # a volume is remounted once nothing writes to it
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            health = StoreHealth(store)
            assert store.find("kept-1") == written
            assert store.listed(Listing()) == written
            assert store.verify().rows == 2
            assert not health.writable()
            with pytest.raises(sqlite3.OperationalError):
                store.append([decision("lost-1")])
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        time.sleep(0.11)  # the floor between two probes of a failing store
        assert health.writable()
        assert not store.append([decision("after-1")]).replayed
        assert store.verify().rows == 3


def _killed_mid_run(path: str) -> None:
    """Record decisions and die without closing: they stay in the WAL, its shared memory kept."""
    store = SQLiteStore(Path(path), 30)
    store.append([decision("in-the-wal"), decision("in-the-wal", 1)])
    os._exit(0)


def test_a_volume_remounted_read_only_reads_the_decisions_still_in_the_wal() -> None:
    with small_file_system() as disk:
        path = disk / "decisions.sqlite3"
        worker = multiprocessing.get_context("spawn").Process(
            target=_killed_mid_run, args=(str(path),)
        )
        worker.start()
        worker.join()
        assert Path(f"{path}-wal").stat().st_size > 0  # not checkpointed into the file
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            store = SQLiteStore(path, 30)
            assert [r["index"] for r in store.find("in-the-wal")] == [0, 1]
            assert [r["index"] for r in store.listed(Listing(limit=5))] == [0, 1]
            assert store.verify().rows == 2
            store.close()
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)


def test_a_full_disk_fails_the_probe_and_freeing_it_recovers() -> None:
    with small_file_system("1m") as disk:
        store = SQLiteStore(disk / "decisions.sqlite3", 30)
        store.append([decision("before")])
        health = StoreHealth(store, interval=0.0)  # probed at every ask
        assert health.writable()
        filler = fill(disk)
        try:
            for i in range(200):  # the WAL may still hold a few writes
                store.append([decision(f"filling-{i}")])
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
        assert not health.writable()
        assert store.find("before")  # reads need no space
        filler.unlink()
        assert health.writable()


def _sequences(rows: list[dict[str, Any]]) -> list[int]:
    return [int(row["sequence"]) for row in rows]


def _moment_between_writes() -> datetime:
    """A time after every decision written so far and before any written next."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def test_a_time_range_lists_its_decisions_oldest_first(store_factory: Any) -> None:
    store = store_factory()
    before = store.append([decision("early-1"), decision("early-1", 1)]).rows
    start = _moment_between_writes()
    inside = store.append([decision("inside-1")]).rows + store.append([decision("inside-2")]).rows
    end = _moment_between_writes()
    after = store.append([decision("late-1")]).rows
    reader = store_factory()  # another connection, as another worker would read
    assert reader.listed(Listing(start, end)) == inside
    assert reader.listed(Listing(start)) == inside + after  # open-ended: up to now
    assert reader.listed(Listing(end=start)) == before
    assert reader.listed(Listing()) == before + inside + after
    assert reader.listed(Listing(start, start)) == []  # [from, to): an empty range
    assert reader.listed(Listing(start, end, after=inside[0]["sequence"])) == inside[1:]
    assert reader.listed(Listing(limit=2)) == before
    # The same moment written with another offset is the same range.
    offset = start.astimezone(timezone(timedelta(hours=-5)))
    assert reader.listed(Listing(offset, end)) == inside


def test_a_key_lists_only_its_own_decisions(store_factory: Any) -> None:
    store = store_factory()
    mine = store.append([decision("mine-1", key_id="k1"), decision("mine-1", 1, key_id="k1")])
    theirs = store.append([decision("theirs-1", key_id="k2")])
    unkeyed = store.append([decision("open-1")])  # recorded while no keys were required
    more = store.append([decision("mine-2", key_id="k1")])
    assert store.listed(Listing(), key_id="k1") == mine.rows + more.rows
    assert store.listed(Listing(), key_id="k2") == theirs.rows
    assert store.listed(Listing(), key_id="k3") == []
    everyone = mine.rows + theirs.rows + unkeyed.rows + more.rows
    assert store.listed(Listing()) == everyone
    start = _moment_between_writes()
    late = store.append([decision("mine-3", key_id="k1")]).rows
    assert store.listed(Listing(start), key_id="k1") == late
    assert store.listed(Listing(start), key_id="k2") == []
    paged = store.listed(Listing(limit=1, after=mine.rows[0]["sequence"]), key_id="k1")
    assert paged == mine.rows[1:]


def _page_through(store: DecisionStore, start: datetime, writing: Any) -> tuple[list[int], int]:
    """Page through everything from `start`, three at a time, while `writing` runs; keep going
    until a page read after it finished comes back empty. The sequences seen, and how many of
    them were seen while it ran."""
    seen: list[int] = []
    seen_while_writing = 0
    while True:
        done = writing.ready()  # before the read: an empty page after this is the end
        page = store.listed(Listing(start, after=seen[-1] if seen else 0, limit=3))
        seen += _sequences(page)
        if not done:
            seen_while_writing = len(seen)
        elif not page:
            return seen, seen_while_writing


def test_paging_while_decisions_are_appended_skips_none_and_repeats_none(
    store_factory: Any,
) -> None:
    """A writer in another process appends while a reader pages through an open-ended range:
    every decision of the range is listed exactly once, in chain order."""
    store = store_factory()
    store.append([decision("before-the-range")])
    start = _moment_between_writes()
    store.append([decision("first-in-range"), decision("first-in-range", 1)])
    where = str(store.path) if isinstance(store, SQLiteStore) else store.url
    kind = "sqlite" if isinstance(store, SQLiteStore) else "postgresql"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        writing = pool.map_async(_write, [(kind, where, 0)])
        seen, seen_while_writing = _page_through(store_factory(), start, writing)
        assert writing.get() == [DECISIONS_EACH]
    assert seen_while_writing > 2, "the reader saw none of the writer's decisions as it wrote"
    everything = _sequences(store.listed(Listing(start, limit=10 * DECISIONS_EACH)))
    assert len(everything) == 2 + DECISIONS_EACH
    assert seen == everything  # in order: none skipped, none repeated


def test_a_store_from_before_listings_gets_their_indexes_once(store_factory: Any) -> None:
    store = store_factory()
    recorded = store.append([decision("old-1", key_id="k1"), decision("old-2", 1)]).rows
    names = ["decisions_key_time"] + ([] if isinstance(store, SQLiteStore) else ["decisions_time"])
    _raw_execute(store, *(f"DROP INDEX {name}" for name in names))
    store.close()
    upgraded = store_factory()
    assert upgraded.listed(Listing(), key_id="k1") == recorded[:1]
    connection = upgraded.connection
    assert all(upgraded._has_index(connection, name) for name in names)
    connection.commit()
    assert upgraded.verify().broken_at is None


def cases_of(store: DecisionStore, **chosen: Any) -> list[int]:
    return [c["case_id"] for c in CaseBook(store).queue(Queue(**chosen))]


def test_a_case_is_committed_with_the_decision_that_opens_it(store_factory: Any) -> None:
    store = store_factory()
    rows = store.append(
        [decision("req-1", 0, "refer", case=REFERRAL), decision("req-1", 1, "accept")]
    ).rows
    store.append([decision("req-2", 0, "accept", case=AUDIT)])
    case = CaseBook(store_factory()).case(rows[0]["sequence"])  # as another worker reads it
    assert case is not None
    assert case["case_id"] == rows[0]["sequence"] and case["record"] == rows[0]
    assert (case["kind"], case["state"], case["outcome"]) == (REFERRAL, "open", "refer")
    assert (case["request_id"], case["index"], case["assignee"]) == ("req-1", 0, None)
    assert case["opened_at"] == case["updated_at"] == rows[0]["decided_at"]
    assert case["applicant"] == {"age": 40, "hba1c": 10.5, "tobacco_use": "current"}
    assert case["outputs"] == {"probabilities": [0.2, 0.3, 0.5], "max_coverage": 250000.0}
    assert case["history"] == []
    assert CaseBook(store).case(rows[1]["sequence"]) is None  # accepted, not drawn for audit
    assert store.verify().broken_at is None  # cases sit beside the chain, not in it


def test_a_case_that_cannot_be_opened_records_nothing(store_factory: Any) -> None:
    store = store_factory()
    store.append([decision("before")])
    if isinstance(store, SQLiteStore):
        refuse = (
            "CREATE TRIGGER cases_refused BEFORE INSERT ON cases "
            "BEGIN SELECT RAISE(ABORT, 'no cases today'); END"
        )
    else:
        refuse = "ALTER TABLE cases ADD CONSTRAINT cases_refused CHECK (kind <> 'referral')"
    _raw_execute(store, refuse)
    with pytest.raises(Exception, match="no cases today|cases_refused"):
        store.append([decision("req-1", 0, "accept"), decision("req-1", 1, "refer", case=REFERRAL)])
    assert store.find("req-1") == []  # neither decision: the case and they commit together
    assert store.verify().rows == 1
    assert store.append([decision("req-2")]).rows[0]["sequence"] == 2


def test_the_queue_lists_cases_in_order_without_the_applicant(store_factory: Any) -> None:
    store = store_factory()
    for i in range(5):
        kind = AUDIT if i % 2 else REFERRAL
        store.append([decision(f"req-{i}", 0, "accept" if kind == AUDIT else "refer", case=kind)])
    listed = CaseBook(store).queue(Queue())
    assert [c["case_id"] for c in listed] == [1, 2, 3, 4, 5]
    assert all("applicant" not in c and "outputs" not in c for c in listed)
    assert cases_of(store, kind=AUDIT) == cases_of(store, outcome="accept") == [2, 4]
    assert cases_of(store, kind=REFERRAL, after=1, limit=1) == [3]
    assert cases_of(store, reason="KO01") == [1, 2, 3, 4, 5]
    assert cases_of(store, reason="KO0") == []  # a code matches whole
    assert cases_of(store, reason="K_01") == cases_of(store, reason="ko01") == []  # exactly
    assert cases_of(store, state="assigned") == []


def test_reads_and_claims_are_the_case_s_history_and_one_underwriter_holds_it(
    store_factory: Any,
) -> None:
    store = store_factory()
    store.append([decision("req-1", 0, "refer", case=REFERRAL)])
    book = CaseBook(store)
    alice, bob = Caller(key_id="a" * 16, name="alice"), Caller(key_id="b" * 16, name="bob")
    assert book.read(1, alice)["history"][-1]["action"] == "read"
    claimed = book.claim(1, alice)
    assert (claimed["state"], claimed["assignee"]) == ("assigned", "alice")
    again = book.claim(1, alice)  # held already: no new step, but a read of the case
    assert (again["state"], again["history"][:-1]) == ("assigned", claimed["history"])
    assert again["history"][-1]["action"] == "read"
    with pytest.raises(Conflict, match="claimed by 'alice'"):
        book.claim(1, bob)
    with pytest.raises(Forbidden, match="only they can release it"):
        book.release(1, bob)
    released = CaseBook(store_factory()).release(1, alice)
    assert (released["state"], released["assignee"]) == ("open", None)
    assert [(e["actor"], e["action"]) for e in released["history"]] == [
        ("alice", "read"),
        ("alice", "claimed"),
        ("alice", "read"),
        ("alice", "released"),
    ]
    with pytest.raises(Conflict, match="only a claimed case"):
        book.release(1, alice)
    with pytest.raises(NotFound):
        book.read(2, alice)
    with pytest.raises(Exception, match="append-only"):
        _raw_execute(store, "UPDATE case_events SET actor = 'mallory'")
    store.connection.rollback()


def test_an_applicant_s_values_are_erased_after_their_retention_and_the_case_stays(
    store_factory: Any,
) -> None:
    store = store_factory(retention_days=3650, applicant_days=10)
    store.append([decision("req-1", 0, "refer", case=REFERRAL)])
    store.purge(now=datetime.now(UTC) + timedelta(days=9))
    assert (CaseBook(store).case(1) or {})["applicant"] is not None
    store.purge(now=datetime.now(UTC) + timedelta(days=11))
    case = CaseBook(store_factory()).case(1)
    assert case is not None and case["applicant"] is None and case["applicant_erased_at"]
    assert case["outputs"] and case["record"]["decision"]["outcome"] == "refer"
    assert store.verify().rows == 1


def test_purging_a_decision_removes_the_case_it_opened_and_its_history(
    store_factory: Any,
) -> None:
    store = store_factory()
    store.append([decision("old", 0, "refer", case=REFERRAL)])
    CaseBook(store).read(1, Caller(key_id="a" * 16))
    assert store.purge(now=datetime.now(UTC) + timedelta(days=31)) == 1
    assert CaseBook(store).case(1) is None and cases_of(store) == []
    store.append([decision("new", 0, "refer", case=REFERRAL)])
    assert CaseBook(store).case(2)["history"] == []  # type: ignore[index]


def test_a_replayed_request_opens_no_second_case(store_factory: Any) -> None:
    store = store_factory()
    store.append([decision("req-1", 0, "refer", case=REFERRAL)])
    assert store.append([decision("req-1", 0, "refer", case=REFERRAL)]).replayed
    assert cases_of(store) == [1]
