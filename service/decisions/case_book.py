"""Underwriters' cases in the decision store: the queue, a case read whole, claimed, released.

Every read of a case (it holds the applicant's personal data) and every step of its work is
an event in the case's history, with who and when, written in the same transaction as what it
records: a read that cannot be recorded is not given. The history only grows (a trigger
refuses updates).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.callers import Caller
from service.decisions.cases import ASSIGNED, KINDS, OPEN, OUTCOMES, STATES
from service.decisions.listing import MAX_SEQUENCE, count, invalid_parameter
from service.decisions.store import Connection, DecisionStore, timestamp
from service.errors import Conflict, Forbidden, NotFound

COLUMNS = (
    "c.case_id, c.kind, c.state, c.opened_at, c.updated_at, c.request_id, c.record_index, "
    "c.outcome, c.assignee_name, c.assignee, c.applicant, c.applicant_erased_at, c.outputs"
)
READ, CLAIMED, RELEASED = "read", "claimed", "released"
ACTIONS = (READ, CLAIMED, RELEASED)  # the steps a case's history records


@dataclass(frozen=True)
class Queue:
    """Which cases to list: by state, kind, outcome and reason code, after a case id."""

    state: str | None = None
    kind: str | None = None
    outcome: str | None = None
    reason: str | None = None
    after: int = 0
    limit: int = 50  # DEFAULT_QUEUE


QUEUE_PARAMETERS = ("state", "kind", "outcome", "reason", "after", "limit")
DEFAULT_QUEUE, MAX_QUEUE = 50, 500  # cases on a page unless asked; at most
_CODE = re.compile(r"[A-Za-z0-9_]{1,16}", re.ASCII)


def queue(given: Mapping[str, str]) -> Queue:
    """The queue's parameters as a client writes them; InvalidInput names a bad one."""
    chosen: dict[str, Any] = {}
    for name, values in (("state", STATES), ("kind", KINDS), ("outcome", OUTCOMES)):
        if name in given:
            if given[name] not in values:
                raise invalid_parameter(name, f"must be one of {', '.join(values)}")
            chosen[name] = given[name]
    if "reason" in given:
        if not _CODE.fullmatch(given["reason"]):
            raise invalid_parameter("reason", "must be a reason or rule code, such as R02 or RF04")
        chosen["reason"] = given["reason"]
    if "after" in given:
        chosen["after"] = count(given["after"], "after", 0, MAX_SEQUENCE)
    chosen["limit"] = (
        count(given["limit"], "limit", 1, MAX_QUEUE) if "limit" in given else DEFAULT_QUEUE
    )
    return Queue(**chosen)


class CaseBook:
    """Reads and works the cases of one decision store (a worker's)."""

    def __init__(self, store: DecisionStore) -> None:
        self.store = store

    def queue(self, chosen: Queue) -> list[dict[str, Any]]:
        """Cases in the order opened: their state and decision, never the applicant's values
        (listing is not reading a case)."""
        conditions: list[str] = ["c.case_id > ?"]
        values: list[Any] = [chosen.after]
        for column, wanted in (
            ("state", chosen.state),
            ("kind", chosen.kind),
            ("outcome", chosen.outcome),
        ):
            if wanted is not None:
                conditions.append(f"c.{column} = ?")
                values.append(wanted)
        if chosen.reason is not None:  # the whole code, exactly (no wildcards, case kept)
            conditions.append(f"{self.store.position}(c.reason_codes, ?) > 0")
            values.append(f" {chosen.reason} ")
        statement = (
            f"SELECT {COLUMNS} FROM cases c WHERE {' AND '.join(conditions)} "
            "ORDER BY c.case_id LIMIT ?"
        )
        with self.store.reading() as connection:
            rows = connection.execute(self.store.sql(statement), (*values, chosen.limit))
            return [_summary(row) for row in rows.fetchall()]

    def waiting(self) -> dict[str, tuple[int, str | None]]:
        """Per state still being worked (open, assigned): how many cases, and when the oldest
        opened (None: none)."""
        marks = ", ".join("?" for _ in STATES)
        statement = (
            "SELECT state, COUNT(*), MIN(opened_at) FROM cases "
            f"WHERE state IN ({marks}) GROUP BY state"
        )
        with self.store.reading() as connection:
            rows = connection.execute(self.store.sql(statement), STATES).fetchall()
        found = {str(state): (int(count), oldest) for state, count, oldest in rows}
        return {state: found.get(state, (0, None)) for state in STATES}

    def case(self, case_id: int) -> dict[str, Any] | None:
        """A case whole, with its opening decision's record and its history; no event written
        (what the service reads for itself: a caller's reads go through `read`)."""
        with self.store.reading() as connection:
            return self._whole(connection, case_id)

    def read(self, case_id: int, reader: Caller) -> dict[str, Any]:
        """A case whole, its reading recorded in its history (who read it, when)."""
        with self.store.writing() as connection:
            self._found(connection, case_id)
            self._event(connection, case_id, reader, READ)
            return self._whole(connection, case_id) or {}

    def claim(self, case_id: int, underwriter: Caller) -> dict[str, Any]:
        """Assign an open case to the caller (a case it holds already stays as it is)."""
        with self.store.writing() as connection:
            case = self._found(connection, case_id)
            if case["state"] == ASSIGNED and case["assignee_key_id"] != underwriter.key_id:
                raise Conflict(
                    f"Case {case_id} is claimed by {case['assignee']!r}; it can be claimed once "
                    "they release it",
                    {"case_id": case_id, "assignee": case["assignee"]},
                )
            if case["state"] == OPEN:
                self._move(connection, case_id, ASSIGNED, underwriter)
                self._event(connection, case_id, underwriter, CLAIMED)
            else:  # held already: nothing changes, but the case is read again
                self._event(connection, case_id, underwriter, READ)
            return self._whole(connection, case_id) or {}

    def release(self, case_id: int, underwriter: Caller) -> dict[str, Any]:
        """Put a case the caller holds back in the queue."""
        with self.store.writing() as connection:
            case = self._found(connection, case_id)
            if case["state"] != ASSIGNED:
                raise Conflict(
                    f"Case {case_id} is {case['state']}: only a claimed case can be released",
                    {"case_id": case_id, "state": case["state"]},
                )
            if case["assignee_key_id"] != underwriter.key_id:
                raise Forbidden(
                    f"Case {case_id} is claimed by {case['assignee']!r}: only they can release it",
                    {"case_id": case_id, "assignee": case["assignee"]},
                )
            self._move(connection, case_id, OPEN, None)
            self._event(connection, case_id, underwriter, RELEASED)
            return self._whole(connection, case_id) or {}

    # -- within a transaction ----------------------------------------------------------------
    def _found(self, connection: Connection, case_id: int) -> dict[str, Any]:
        row = connection.execute(
            self.store.sql(f"SELECT {COLUMNS} FROM cases c WHERE c.case_id = ?"), (case_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"No case {case_id}", {"case_id": case_id})
        return _summary(row)

    def _whole(self, connection: Connection, case_id: int) -> dict[str, Any] | None:
        sql = self.store.sql
        row = connection.execute(
            sql(
                f"SELECT {COLUMNS}, d.body, d.previous_hash, d.hash FROM cases c "
                "JOIN decisions d ON d.sequence = c.case_id WHERE c.case_id = ?"
            ),
            (case_id,),
        ).fetchone()
        if row is None:
            return None
        events = connection.execute(
            sql("SELECT at, actor, action FROM case_events WHERE case_id = ? ORDER BY event_id"),
            (case_id,),
        ).fetchall()
        body, previous, digest = row[-3:]
        applicant, erased, outputs = row[-6:-3]
        return _summary(row[:-3]) | {
            "applicant": None if applicant is None else json.loads(applicant),
            "applicant_erased_at": erased,
            "outputs": json.loads(outputs),
            "record": json.loads(body) | {"previous_hash": previous, "hash": digest},
            "history": [{"at": at, "actor": actor, "action": act} for at, actor, act in events],
        }

    def _move(
        self, connection: Connection, case_id: int, state: str, assignee: Caller | None
    ) -> None:
        connection.execute(
            self.store.sql(
                "UPDATE cases SET state = ?, assignee = ?, assignee_name = ?, updated_at = ? "
                "WHERE case_id = ?"
            ),
            (
                state,
                None if assignee is None else assignee.key_id,
                None if assignee is None else assignee.shown,
                _now(),
                case_id,
            ),
        )

    def _event(self, connection: Connection, case_id: int, actor: Caller, action: str) -> None:
        connection.execute(
            self.store.sql(
                "INSERT INTO case_events (case_id, at, actor_key_id, actor, action) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            (case_id, _now(), actor.key_id, actor.shown, action),
        )


def _summary(row: Sequence[Any]) -> dict[str, Any]:
    """A case's state and decision as the queue lists it: no applicant's values."""
    case_id, kind, state, opened, updated, request_id, index, outcome, assignee, key = row[:10]
    return {
        "case_id": int(case_id),
        "kind": kind,
        "state": state,
        "opened_at": opened,
        "updated_at": updated,
        "request_id": request_id,
        "index": int(index),
        "outcome": outcome,
        "assignee": assignee,
        "assignee_key_id": key,
    }


def _now() -> str:
    return timestamp(datetime.now(UTC))
