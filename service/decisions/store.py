"""The durable record of every decision: append-only, hash-chained, SQLite or PostgreSQL.

A record holds what an examiner asks for (request id, time, model and policy versions, the
outcome, offer, reasons with the applicant's values, the rules that fired, the id of the API key
that asked) and a sha256 fingerprint of the applicant's record instead of the record itself.
A decision's key is its request id and its index in the request, unique in the store: a request
sent again (the same applicants by the same caller under the same versions) is a replay,
answered with the decisions on record and writing nothing; anything else under a used id is
refused. Decisions are read back by request id, or listed by time a page at a time along the
chain (`listed`).

Each row's `hash` is the sha256 of the previous row's hash and the row's canonical body, so an
edited, removed or reordered row breaks the chain (`python -m service.decisions verify`). Rows
are written in the request, before the response: a decision acknowledged with a 200 is
committed. Writers serialise on a lock (SQLite's write lock; a PostgreSQL advisory lock) to
extend the chain in order; retention purges the oldest rows and re-anchors the chain on the
last one purged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson

from service.decisions.cases import OPEN, CaseOpening, reason_codes
from service.decisions.listing import Listing
from service.observability.repeated_failures import RepeatedFailures

log = logging.getLogger(__name__)
GENESIS = "0" * 64  # the previous hash of the first row ever written
PURGE_INTERVAL_SECONDS = 3600.0
APPLICANT_DAYS = 90  # days a case keeps the applicant's values, unless configured
_LOCK_KEY = 7_310_411  # the PostgreSQL advisory lock the writers share
BUSY_TIMEOUT_MS = 10_000  # how long a write waits for SQLite's lock
PROBE_WAIT_MS = 2_000  # how long a readiness probe waits for a lock (probes time out at ~3 s)
# One row, rewritten by readiness probes: a write that fails where a decision's would.
PROBE_TABLE = (
    "CREATE TABLE IF NOT EXISTS decision_store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "checked_at TEXT NOT NULL)"
)


def body_text(record: Mapping[str, Any]) -> str:
    """A row's stored, hashed body: sorted keys, no whitespace (verification rereads the text)."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()


def fingerprint(record: Mapping[str, Any]) -> str:
    """sha256 of an applicant record's canonical JSON: matches the record, reveals nothing.

    Canonical as orjson writes it with sorted keys: no whitespace, UTF-8, numbers in their
    shortest round-trip form (`hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))`).
    """
    return hashlib.sha256(orjson.dumps(dict(record), option=orjson.OPT_SORT_KEYS)).hexdigest()


def chain_hash(previous: str, body: str) -> str:
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class DecisionEntry:
    """A decision to record: everything but its place in the chain."""

    request_id: str
    index: int  # the record's position in its request
    model_versions: Mapping[str, int]
    fingerprint: str
    decision: Mapping[str, Any]
    key_id: str | None = None  # the API key that asked (its id, never the key)
    case: CaseOpening | None = None  # the underwriter's case it opens, committed with it

    def replayed_by(self, stored: Mapping[str, Any]) -> bool:
        """Whether a stored record is this decision asked for again (the same applicant, by the
        same caller, under the same versions)."""
        return (
            stored.get("index") == self.index
            and stored.get("fingerprint") == self.fingerprint
            and stored.get("model_versions") == dict(self.model_versions)
            and stored.get("key_id") == self.key_id
        )


@dataclass(frozen=True)
class Appended:
    """What an append left on record: the rows as stored, and whether they were already."""

    rows: list[dict[str, Any]]
    replayed: bool


class RequestIdTaken(Exception):
    """A request id already keys other decisions (another applicant, caller or versions)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request id {request_id!r} already keys other decisions")
        self.request_id = request_id


@dataclass(frozen=True)
class ChainReport:
    """What a verification found."""

    rows: int
    first: int | None
    last: int | None
    broken_at: int | None  # the first sequence that does not chain, or None
    problem: str = ""
    last_hash: str = ""  # keep it elsewhere: a later verify then also proves nothing was cut off


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class DecisionStore:
    """Appends decisions to the chain and reads them back; one per worker process."""

    placeholder = "?"
    dialect = "sqlite"
    key_id = "json_extract(body, '$.key_id')"  # the id of the API key that asked, from a body
    position = "instr"  # where a text occurs in another (0: nowhere), as (haystack, needle)

    def __init__(self, retention_days: int, applicant_days: int = APPLICANT_DAYS) -> None:
        self.retention = timedelta(days=retention_days)
        self.applicant_retention = timedelta(days=applicant_days)
        self._connection: Connection | None = None
        self._reader: Connection | None = None  # read-only, while the store cannot be written
        self._setup_failures = RepeatedFailures(log)
        self._last_purge = 0.0
        self._indexed = False  # this connection's set-up created every index (none missing)

    # -- backend specifics --------------------------------------------------------------------
    def _connect(self) -> Connection:
        raise NotImplementedError

    def _lock(self, connection: Connection) -> None:
        """Begin a transaction holding the chain's write lock."""
        raise NotImplementedError

    def _schema(self) -> list[str]:
        raise NotImplementedError

    def _snapshot(self, connection: Connection) -> None:
        """Begin a read transaction that sees one state of the database throughout."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    @property
    def connection(self) -> Connection:
        """This process's connection, opened (and the schema created) on first use.

        A store that cannot be written (full, read-only) still answers reads: the connection is
        kept if its decisions can be read; writes then fail on their own, and readiness says so.
        """
        if self._connection is None:
            self._indexed = False
            connection = self._connect()
            try:
                self._lock(connection)  # workers start together: one creates the schema at once
                for statement in self._schema():
                    connection.execute(statement)
                self._unique_keys(connection)
                self._listing_indexes(connection)
                connection.commit()
                self._indexed = True
            except Exception as exc:
                _rollback(connection)
                if not _holds_decisions(connection):
                    _close_quietly(connection)
                    raise
                kind = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
                self._setup_failures.failed(
                    kind, f"the decision record store's set-up failed, reading only: {kind}"
                )
            except BaseException:
                _close_quietly(connection)
                raise
            self._connection = connection
        return self._connection

    def _unique_keys(self, connection: Connection) -> None:
        """Make a decision's key (request id, index) unique with an index, created once.

        Decisions recorded before keys were unique may repeat a key: the index covers every
        record after the last such one (and `append` checks a request's id under the lock).
        """
        if self._has_index(connection, "decisions_key"):
            return
        self._unbounded(connection)  # once, over every record: a store of millions takes a while
        row = connection.execute(
            "SELECT MAX(sequence) FROM (SELECT sequence, ROW_NUMBER() OVER (PARTITION BY "
            "request_id, record_index ORDER BY sequence) AS nth FROM decisions) AS keyed "
            "WHERE nth > 1"
        ).fetchone()
        after = int(row[0] or 0)  # an integer read from the store: safe to write into the DDL
        connection.execute(
            "CREATE UNIQUE INDEX decisions_key ON decisions (request_id, record_index) "
            f"WHERE sequence > {after}"
        )

    def _listing_indexes(self, connection: Connection) -> None:
        """Create the indexes listings choose sequences from, each once.

        A store written before listings gets them from the first process to connect after the
        upgrade: a pass over the records (each key's id is read from its body), which takes a
        while for millions, writes waiting.
        """
        for name, columns in self._listing_columns().items():
            if not self._has_index(connection, name):
                self._unbounded(connection)
                connection.execute(f"CREATE INDEX {name} ON decisions ({columns})")

    def _listing_columns(self) -> dict[str, str]:
        """Each listing index's columns: the sequences by time, and by key and time."""
        return {"decisions_key_time": f"{self.key_id}, decided_at, sequence"}

    def _has_index(self, connection: Connection, name: str) -> bool:
        raise NotImplementedError

    def _unbounded(self, connection: Connection) -> None:
        """Lift this transaction's statement time limit, where the backend sets one."""

    def _briefly(self, connection: Connection) -> None:
        """Wait at most a couple of seconds for this transaction's locks (a probe)."""

    def readable(self) -> Connection:
        """A connection to read decisions through: this process's, or a read-only one where
        the store cannot be opened for writing at all."""
        try:
            return self.connection
        except Exception:
            reader = self._read_only()
            if reader is None:
                raise
            return reader

    def _read_only(self) -> Connection | None:
        """A connection that only reads, where the backend needs one (None: it does not)."""
        return None

    def probe(self) -> None:
        """Rewrite the store's probe row: raises what writing a decision now would meet."""
        connection = self.connection
        try:
            self._briefly(connection)
            connection.execute(
                self._sql(
                    "INSERT INTO decision_store_probe (id, checked_at) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
                ),
                (timestamp(datetime.now(UTC)),),
            )
            connection.commit()
        except BaseException:
            _rollback(connection)
            raise
        finally:
            self._patiently(connection)

    def _patiently(self, connection: Connection) -> None:
        """Wait for locks as long as writes do again, after `_briefly`."""

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction holding the write lock: committed at the end, rolled back on error."""
        connection = self.connection
        try:
            self._lock(connection)
            yield connection
            connection.commit()
        except BaseException:
            _rollback(connection)
            raise

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection to read through, its read transaction ended after (a broken
        connection is closed, to be opened again on the next use)."""
        try:
            connection = self.readable()
            yield connection
            connection.commit()
        except BaseException:
            self.close()
            raise

    def sql(self, text: str) -> str:
        """A statement written with `?` placeholders, in the backend's own."""
        return self._sql(text)

    def close(self) -> None:
        for connection in (self._connection, self._reader):
            if connection is not None:
                _close_quietly(connection)
        self._connection = self._reader = None

    def append(self, decisions: Sequence[DecisionEntry]) -> Appended:
        """Commit the decisions in order at the chain's end, unless their request is a replay.

        Under the chain's write lock, so two workers sent the same request at once write it
        once: the second finds the first's rows. Raises RequestIdTaken, writing nothing, when
        the request id already keys other decisions.
        """
        connection = self.connection
        decided_at = timestamp(datetime.now(UTC))  # one time for a request's decisions
        try:
            self._lock(connection)
            # One more than the request's records: more is a conflict, however many there are.
            first, bound = decisions[0].request_id if decisions else "", len(decisions) + 1
            if decisions and (recorded := self._recorded(connection, first, bound)):
                connection.commit()  # nothing to write: release the lock at once
                return Appended(_replayed(decisions, recorded), replayed=True)
            sequence, previous = self._tail(connection)
            rows, stored, cases = [], [], []
            for new in decisions:
                sequence += 1
                if new.case is not None:
                    cases.append(_case_row(sequence, new, decided_at))
                record = _record(sequence, new, decided_at)
                body = body_text(record)
                digest = chain_hash(previous, body)
                rows.append(
                    (
                        sequence,
                        new.request_id,
                        new.index,
                        record["decided_at"],
                        body,
                        previous,
                        digest,
                    )
                )
                stored.append(record | {"previous_hash": previous, "hash": digest})
                previous = digest
            connection_rows(
                connection,
                self._sql(
                    "INSERT INTO decisions (sequence, request_id, record_index, decided_at, body, "
                    "previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )
            if cases:
                connection_rows(connection, self._sql(CASE_INSERT), cases)
            connection.commit()
        except BaseException:
            _rollback(connection)
            raise
        if time.monotonic() - self._last_purge > PURGE_INTERVAL_SECONDS:
            try:  # the decisions are committed: a failed purge must not un-acknowledge them
                self.purge()
            except Exception:
                log.exception("purging decision records older than the retention failed")
                self.close()
        return Appended(stored, replayed=False)

    def _recorded(
        self, connection: Connection, request_id: str, limit: int
    ) -> list[dict[str, Any]]:
        """The records under a request id, in the order written: at most `limit`."""
        rows = connection.execute(
            self._sql(
                "SELECT body, previous_hash, hash FROM decisions WHERE request_id = ? "
                "ORDER BY sequence LIMIT ?"
            ),
            (request_id, limit),
        ).fetchall()
        return [json.loads(body) | {"previous_hash": p, "hash": h} for body, p, h in rows]

    def _tail(self, connection: Connection) -> tuple[int, str]:
        """The last sequence and hash: the newest row's, or the anchor's after a full purge."""
        row = connection.execute(
            "SELECT sequence, hash FROM decisions ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
        if row is None:
            row = connection.execute("SELECT sequence, hash FROM decision_anchor").fetchone()
        return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)

    def find(self, request_id: str, limit: int = 1_000) -> list[dict[str, Any]]:
        """Decisions recorded under a request id, in the order written (empty: none)."""
        try:
            connection = self.readable()
            found = self._recorded(connection, request_id, limit)
            connection.commit()  # end the read transaction (PostgreSQL opens one)
        except BaseException:
            self.close()  # a broken connection is opened again on the next use
            raise
        return found

    def listed(self, chosen: Listing, key_id: str | None = None) -> list[dict[str, Any]]:
        """The decisions a listing chooses, in the order written; only `key_id`'s if given.

        The sequences are chosen from an index over the time range (or the key's), then their
        rows read: a page costs the range's index entries, never a pass over the records.
        """
        conditions = ["sequence > ?"]
        values: list[Any] = [chosen.after]
        for bound, condition in ((chosen.start, "decided_at >= ?"), (chosen.end, "decided_at < ?")):
            if bound is not None:
                conditions.append(condition)
                values.append(timestamp(bound))
        if key_id is not None:
            conditions.append(f"{self.key_id} = ?")
            values.append(key_id)
        by_time = chosen.start is not None or chosen.end is not None
        try:
            connection = self.readable()  # set up first: the choice depends on its indexes
            source, order = self._choosing(key_id is not None, by_time)
            chosen_rows = (
                f"SELECT sequence FROM {source} WHERE {' AND '.join(conditions)} "
                f"ORDER BY {order} LIMIT ?"
            )
            rows = connection.execute(
                self._sql(
                    "SELECT body, previous_hash, hash FROM decisions "
                    f"WHERE sequence IN ({chosen_rows}) ORDER BY sequence"
                ),
                (*values, chosen.limit),
            ).fetchall()
            connection.commit()  # end the read transaction (PostgreSQL opens one)
        except BaseException:
            self.close()  # a broken connection is opened again on the next use
            raise
        return [json.loads(body) | {"previous_hash": p, "hash": h} for body, p, h in rows]

    def _choosing(self, by_key: bool, by_time: bool) -> tuple[str, str]:
        """Where a listing chooses its sequences from, and the order it writes: an index over
        the range (or the key's decisions) when it has one, else the chain from `after` on.

        Told, because a planner would walk the chain from its start to the range: matching
        rows look spread along it, when they are bunched where their time was recorded.
        """
        raise NotImplementedError

    def purge(self, now: datetime | None = None) -> int:
        """Delete records older than the retention (and the cases they opened); anchor the
        chain on the last one deleted. Erase the applicant's values from cases opened longer
        ago than their own retention (the case and its decision stay)."""
        self._last_purge = time.monotonic()
        moment = now or datetime.now(UTC)
        cutoff = timestamp(moment - self.retention)
        connection = self.connection
        try:
            self._lock(connection)
            connection.execute(
                self._sql(
                    "UPDATE cases SET applicant = NULL, applicant_erased_at = ? "
                    "WHERE opened_at < ? AND applicant IS NOT NULL"
                ),
                (timestamp(moment), timestamp(moment - self.applicant_retention)),
            )
            last = connection.execute(
                self._sql(
                    "SELECT sequence, hash FROM decisions WHERE decided_at < ? "
                    "ORDER BY sequence DESC LIMIT 1"
                ),
                (cutoff,),
            ).fetchone()
            if last is None:
                connection.commit()
                return 0
            cursor = connection.execute(
                self._sql("DELETE FROM decisions WHERE sequence <= ?"), (last[0],)
            )
            for table in ("case_events", "cases"):  # both keyed by the opening decision
                connection.execute(self._sql(f"DELETE FROM {table} WHERE case_id <= ?"), (last[0],))
            connection.execute("DELETE FROM decision_anchor")
            connection.execute(
                self._sql("INSERT INTO decision_anchor (id, sequence, hash) VALUES (1, ?, ?)"),
                (last[0], last[1]),
            )
            connection.commit()
            return int(cursor.rowcount)
        except BaseException:
            _rollback(connection)
            raise

    def verify(self) -> ChainReport:
        """Walk the chain from its anchor: every hash recomputes, every row links to the last."""
        connection = self.readable()
        self._snapshot(connection)  # the anchor and every page from one consistent state
        anchor = connection.execute("SELECT sequence, hash FROM decision_anchor").fetchone()
        expected_sequence, previous = (int(anchor[0]), str(anchor[1])) if anchor else (0, GENESIS)
        count, first, last = 0, None, None
        for sequence, request_id, index, body, linked, digest in self._walk(connection):
            expected_sequence += 1
            count, first, last = count + 1, first or sequence, sequence
            problem = ""
            if sequence != expected_sequence:
                problem = f"sequence {sequence} follows {expected_sequence - 1}: rows are missing"
            elif linked != previous:
                problem = f"row {sequence} does not link to the row before it"
            elif chain_hash(previous, body) != digest:
                problem = f"row {sequence} was changed after it was written"
            else:
                content = json.loads(body)
                if (content.get("sequence"), content.get("request_id"), content.get("index")) != (
                    sequence,
                    request_id,
                    index,
                ):
                    problem = f"row {sequence}'s columns differ from its hashed body"
            if problem:
                connection.commit()
                return ChainReport(count, first, last, sequence, problem)
            previous = digest
        connection.commit()
        return ChainReport(count, first, last, None, last_hash=previous)

    def _walk(self, connection: Connection) -> Iterator[tuple[int, str, int, str, str, str]]:
        """Every row in sequence order, read in pages (a chain may hold millions)."""
        after = -1
        while True:
            page = connection.execute(
                self._sql(
                    "SELECT sequence, request_id, record_index, body, previous_hash, hash "
                    "FROM decisions WHERE sequence > ? ORDER BY sequence LIMIT 5000"
                ),
                (after,),
            ).fetchall()
            if not page:
                return
            for row in page:
                yield int(row[0]), str(row[1]), int(row[2]), str(row[3]), str(row[4]), str(row[5])
            after = int(page[-1][0])


def _record(sequence: int, new: DecisionEntry, decided_at: str) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "request_id": new.request_id,
        "index": new.index,
        "decided_at": decided_at,
        "model_versions": dict(new.model_versions),
        "fingerprint": new.fingerprint,
        "key_id": new.key_id,
        "decision": dict(new.decision),
    }


CASE_INSERT = (
    "INSERT INTO cases (case_id, kind, state, opened_at, updated_at, request_id, record_index, "
    "outcome, reason_codes, applicant, outputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _case_row(sequence: int, new: DecisionEntry, decided_at: str) -> tuple[Any, ...]:
    """A new case's row: opened by the decision at `sequence`, in the same transaction."""
    case = new.case
    assert case is not None
    return (
        sequence,
        case.kind,
        OPEN,
        decided_at,
        decided_at,
        new.request_id,
        new.index,
        new.decision.get("outcome"),
        reason_codes(new.decision),
        orjson.dumps(dict(case.applicant)).decode(),
        orjson.dumps(dict(case.outputs)).decode(),
    )


def _case_schema(integer: str, serial: str, append_only: list[str]) -> list[str]:
    """The cases and their history. A case's state changes (it is not chained: the decisions
    are); its history only grows (`append_only`: the dialect's trigger on case_events)."""
    return [
        f"CREATE TABLE IF NOT EXISTS cases (case_id {integer} PRIMARY KEY, kind TEXT NOT NULL, "
        "state TEXT NOT NULL, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "request_id TEXT NOT NULL, record_index INTEGER NOT NULL, outcome TEXT NOT NULL, "
        "reason_codes TEXT NOT NULL, assignee TEXT, assignee_name TEXT, "
        "applicant TEXT, applicant_erased_at TEXT, outputs TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS cases_queue ON cases (state, case_id)",
        "CREATE INDEX IF NOT EXISTS cases_opened_at ON cases (opened_at)",
        f"CREATE TABLE IF NOT EXISTS case_events (event_id {serial} PRIMARY KEY, "
        f"case_id {integer} NOT NULL, at TEXT NOT NULL, actor_key_id TEXT, "
        "actor TEXT NOT NULL, action TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS case_events_case ON case_events (case_id, event_id)",
        *append_only,
    ]


def _replayed(
    decisions: Sequence[DecisionEntry], recorded: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The recorded rows, if they are these decisions asked for again; else RequestIdTaken."""
    if len(recorded) != len(decisions) or not all(
        new.replayed_by(stored) for new, stored in zip(decisions, recorded, strict=True)
    ):
        raise RequestIdTaken(decisions[0].request_id)
    return recorded


def timestamp(moment: datetime) -> str:
    """UTC to the microsecond, fixed width: text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def connection_rows(connection: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows in one round trip where the driver allows it."""
    many = getattr(connection, "executemany", None)
    if many is not None:
        many(sql, rows)
        return
    with connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.executemany(sql, rows)


def _holds_decisions(connection: Connection) -> bool:
    """Whether decisions can be read through the connection (their table exists)."""
    try:
        connection.execute("SELECT 1 FROM decisions LIMIT 1").fetchall()
        connection.commit()
        return True
    except Exception:
        _rollback(connection)
        return False


def _close_quietly(connection: Connection) -> None:
    try:
        connection.close()
    except Exception:  # closing what already failed: nothing more to learn
        pass


def _rollback(connection: Connection) -> None:
    try:
        connection.rollback()
    except Exception:  # the connection may be what failed; the caller's error says why
        pass


WAL_ATTEMPTS = 50  # x 0.1 s: how long a worker waits for another to finish switching to WAL


def _use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode (once: the mode is stored in the file).

    Switching needs the file to itself, and SQLite answers "database is locked" at once, busy
    timeout or not, while another worker's first connection is doing the same: so look first,
    and retry the switch for a bounded time.
    """
    for _ in range(WAL_ATTEMPTS):
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.1)
    connection.execute("PRAGMA journal_mode=WAL")  # the last try raises what SQLite says


class SQLiteStore(DecisionStore):
    """A file in WAL mode: readers never block the writer; writers take turns on its lock."""

    def __init__(
        self,
        path: Path,
        retention_days: int,
        synchronous: str = "normal",
        applicant_days: int = APPLICANT_DAYS,
    ) -> None:
        super().__init__(retention_days, applicant_days)
        self.path = path
        self.synchronous = synchronous

    def _connect(self) -> Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE takes the write lock).
        # Used by one thread at a time (the dataplane's lock), not always the same one: a
        # worker's REST and gRPC calls come on different threads.
        connection = sqlite3.connect(
            str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False
        )
        _use_wal(connection)
        connection.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return _SQLiteConnection(connection)

    def _lock(self, connection: Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")

    def _snapshot(self, connection: Connection) -> None:
        connection.execute("BEGIN")  # WAL: a read transaction keeps its snapshot

    def _has_index(self, connection: Connection, name: str) -> bool:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).fetchone()
        return found is not None

    def _choosing(self, by_key: bool, by_time: bool) -> tuple[str, str]:
        if not self._indexed:  # a store that could not be set up may predate an index
            return "decisions", "sequence"
        if by_key:
            return "decisions INDEXED BY decisions_key_time", "sequence"
        if by_time:  # the index holds each row's sequence (its rowid): it covers the choice
            return "decisions INDEXED BY decisions_decided_at", "sequence"
        return "decisions", "sequence"

    def _read_only(self) -> Connection | None:
        """A connection on a read-only file system, where SQLite cannot open a WAL file's
        shared memory for writing: read-only if the WAL holds decisions (SQLite then reads
        them through the existing shared memory), else as immutable (nothing can change it).
        """
        if self._reader is None:
            if not self.path.is_file() or not os.statvfs(self.path).f_flag & os.ST_RDONLY:
                return None
            wal = self.path.with_name(self.path.name + "-wal")
            mode = "ro" if wal.is_file() and wal.stat().st_size else "ro&immutable=1"
            uri = f"{self.path.absolute().as_uri()}?mode={mode}"
            self._reader = _SQLiteConnection(
                sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            )
        return self._reader

    def _briefly(self, connection: Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout={PROBE_WAIT_MS}")

    def _patiently(self, connection: Connection) -> None:
        try:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except Exception:  # the probe's own failure is what the caller reports
            pass

    def _schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS decisions (sequence INTEGER PRIMARY KEY, "
            "request_id TEXT NOT NULL, record_index INTEGER NOT NULL, decided_at TEXT NOT NULL, "
            "body TEXT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT NOT NULL)",
            # A request's records, found by its id (its key's uniqueness: _unique_keys).
            "CREATE INDEX IF NOT EXISTS decisions_request_id ON decisions (request_id)",
            "CREATE TABLE IF NOT EXISTS decision_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "sequence INTEGER NOT NULL, hash TEXT NOT NULL)",
            PROBE_TABLE,
            "CREATE INDEX IF NOT EXISTS decisions_decided_at ON decisions (decided_at)",
            # Append-only: a row, once written, is never changed.
            "CREATE TRIGGER IF NOT EXISTS decisions_append_only BEFORE UPDATE ON decisions "
            "BEGIN SELECT RAISE(ABORT, 'decision records are append-only'); END",
            *_case_schema(
                "INTEGER",
                "INTEGER",
                [
                    "CREATE TRIGGER IF NOT EXISTS case_events_append_only BEFORE UPDATE ON "
                    "case_events BEGIN SELECT RAISE(ABORT, 'case history is append-only'); END"
                ],
            ),
        ]


class _SQLiteConnection:
    """sqlite3 in autocommit mode, with commit/rollback as statements (ours to begin)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.raw = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.raw.executemany(sql, rows)

    def commit(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


class PostgresStore(DecisionStore):
    """PostgreSQL (psycopg 3): writers serialise on a transaction-scoped advisory lock."""

    placeholder = "%s"
    dialect = "postgresql"
    key_id = "((body::jsonb) ->> 'key_id')"
    position = "strpos"

    def __init__(self, url: str, retention_days: int, applicant_days: int = APPLICANT_DAYS) -> None:
        super().__init__(retention_days, applicant_days)
        self.url = url

    def _connect(self) -> Connection:
        import psycopg  # only when PostgreSQL is configured

        connection = psycopg.connect(
            self.url,
            connect_timeout=10,
            # The chain needs each writer to read the tail after taking the lock: READ
            # COMMITTED whatever the server's default. A writer that vanishes while holding
            # the lock must not stall the others for long.
            options="-c lock_timeout=10s -c idle_in_transaction_session_timeout=30s "
            "-c statement_timeout=30s",
        )
        connection.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        return connection

    def _lock(self, connection: Connection) -> None:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))

    def _snapshot(self, connection: Connection) -> None:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def _has_index(self, connection: Connection, name: str) -> bool:
        found = connection.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
            (name,),
        ).fetchone()
        return found is not None

    def _unbounded(self, connection: Connection) -> None:
        connection.execute("SET LOCAL statement_timeout = 0")

    def _listing_columns(self) -> dict[str, str]:
        # The time index holds the sequences too: a range's are read from the index alone.
        return super()._listing_columns() | {"decisions_time": "decided_at, sequence"}

    def _choosing(self, by_key: bool, by_time: bool) -> tuple[str, str]:
        # `+ 0`: the primary key cannot give that order, so the planner reads the range (or
        # the key's decisions) from their index and sorts them, rather than walk the chain.
        return "decisions", "sequence + 0" if by_key or by_time else "sequence"

    def _briefly(self, connection: Connection) -> None:
        connection.execute(f"SET LOCAL lock_timeout = {PROBE_WAIT_MS}")
        connection.execute(f"SET LOCAL statement_timeout = {PROBE_WAIT_MS}")

    def _schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS decisions (sequence BIGINT PRIMARY KEY, "
            "request_id TEXT NOT NULL, record_index INTEGER NOT NULL, decided_at TEXT NOT NULL, "
            "body TEXT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT NOT NULL)",
            # A request's records, found by its id (its key's uniqueness: _unique_keys).
            "CREATE INDEX IF NOT EXISTS decisions_request_id ON decisions (request_id)",
            "CREATE TABLE IF NOT EXISTS decision_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "sequence BIGINT NOT NULL, hash TEXT NOT NULL)",
            PROBE_TABLE,
            "CREATE INDEX IF NOT EXISTS decisions_decided_at ON decisions (decided_at)",
            "CREATE OR REPLACE FUNCTION decisions_refuse_update() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'decision records are append-only'; END $$ LANGUAGE plpgsql",
            "CREATE OR REPLACE TRIGGER decisions_append_only BEFORE UPDATE ON decisions "
            "FOR EACH ROW EXECUTE FUNCTION decisions_refuse_update()",
            *_case_schema(
                "BIGINT",
                "BIGSERIAL",
                [
                    "CREATE OR REPLACE FUNCTION case_events_refuse_update() RETURNS trigger AS $$ "
                    "BEGIN RAISE EXCEPTION 'case history is append-only'; END $$ "
                    "LANGUAGE plpgsql",
                    "CREATE OR REPLACE TRIGGER case_events_append_only BEFORE UPDATE ON "
                    "case_events FOR EACH ROW EXECUTE FUNCTION case_events_refuse_update()",
                ],
            ),
        ]


def open_store(
    database: Path,
    url: str,
    retention_days: int,
    synchronous: str,
    applicant_days: int = APPLICANT_DAYS,
) -> DecisionStore:
    """The store the settings name: PostgreSQL when a URL is given, else the SQLite file."""
    if url:
        return PostgresStore(url, retention_days, applicant_days)
    return SQLiteStore(database, retention_days, synchronous, applicant_days)
