"""Which recorded decisions to list: a time range, a place in the chain, a page's size.

The same parameters over HTTP (`GET /v1/decisions?from=&to=&after=&limit=`) and from the command
line (`python -m service.decisions show --from ...`). Pages are keyed on the chain's sequence
number, which only grows: decisions recorded while a client pages through come after its cursor,
so no page repeats or skips one. Bad values are InvalidInput naming the parameter, never echoing
its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.errors import InvalidInput

DEFAULT_LIMIT = 100  # decisions on a page unless the client asks for another number
MAX_LIMIT = 1_000  # at most this many on one page (about 1 MB of JSON)
MAX_SEQUENCE = 2**63 - 1  # the largest sequence either database stores (a 64-bit integer)
PARAMETERS = ("from", "to", "after", "limit")
# RFC 3339's date-time (section 5.6): the time zone is required, as a stored time has one.
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_COUNT = re.compile(r"\d{1,19}", re.ASCII)  # no sign, no spaces, no underscores, not "1e3"


@dataclass(frozen=True)
class Page:
    """The decisions of one page, and the `after` of the next (None: none more, for now)."""

    decisions: list[dict[str, Any]]
    next: int | None


def page(rows: list[dict[str, Any]], limit: int) -> Page:
    """A page of `limit` decisions from rows read one beyond it (whose presence says more)."""
    shown = rows[:limit]
    return Page(shown, int(shown[-1]["sequence"]) if len(rows) > limit else None)


@dataclass(frozen=True)
class Listing:
    """Decisions recorded from `start` (inclusive) to `end` (exclusive), after sequence
    `after`, oldest first, at most `limit` of them."""

    start: datetime | None = None
    end: datetime | None = None
    after: int = 0
    limit: int = DEFAULT_LIMIT


def listing(
    start: str | None = None,
    end: str | None = None,
    after: str | None = None,
    limit: str | None = None,
) -> Listing:
    """Read a listing's parameters as a client writes them; InvalidInput names a bad one."""
    since = moment(start, "from") if start is not None else None
    until = moment(end, "to") if end is not None else None
    if since is not None and until is not None and since > until:
        raise invalid_parameter("from", "must not be after 'to'")
    cursor = count(after, "after", 0, MAX_SEQUENCE) if after is not None else 0
    size = count(limit, "limit", 1, MAX_LIMIT) if limit is not None else DEFAULT_LIMIT
    return Listing(since, until, cursor, size)


def moment(text: str, name: str) -> datetime:
    """An RFC 3339 date-time with its time zone, in UTC (beyond what UTC can hold: its end)."""
    problem = "must be an RFC 3339 date-time with a time zone, such as 2025-06-30T09:30:00Z"
    if not _DATE_TIME.fullmatch(text):
        raise invalid_parameter(name, f"{problem} (in a URL, send '+' as %2B)")
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        raise invalid_parameter(name, f"{problem}: no such date or time") from None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # a time zone pushed it past year 1 or 9999: before or after any record
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


def count(text: str, name: str, low: int, high: int) -> int:
    """A whole number from `low` to `high`, written in plain digits."""
    if not _COUNT.fullmatch(text) or not low <= int(text) <= high:
        raise invalid_parameter(name, f"must be a whole number from {low} to {high}")
    return int(text)


def invalid_parameter(name: str, problem: str) -> InvalidInput:
    """A query parameter's refusal, naming it and the problem (never echoing its value)."""
    return InvalidInput(
        f"Invalid query parameter '{name}': {problem}",
        {name: [f"{problem[0].upper()}{problem[1:]}."]},
    )
