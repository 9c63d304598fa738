"""CSV books damaged in one place each, as files arrive from partners: the case, and the line
the scorer must name when it refuses the file."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pacsv
from book_support import book_table

ROWS = 4
BIG = 200 * 1024  # over the scorer's 128 KiB a field


def book_lines() -> list[bytes]:
    """A valid book of ROWS applicants as CSV lines (each with its line feed), applicant_id
    last, so that a quote left open on it runs into the next line."""
    table = book_table(ROWS, seed=5, invalid={})
    table = table.select([*(n for n in table.column_names if n != "applicant_id"), "applicant_id"])
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue().splitlines(keepends=True)


def _unquoted(line: bytes) -> bytes:
    return line.replace(b'"', b"")


def _swallowing(lines: list[bytes]) -> list[bytes]:
    """Line 2's last quote left open, line 3 unquoted and last: a lenient reader makes one row
    of the two, with as many fields as the header (and scores it)."""
    return [lines[0], lines[1].rstrip(b'"\n') + b"\n", _unquoted(lines[2])]


def _at(line: int, change: Callable[[bytes], bytes]) -> Callable[[list[bytes]], list[bytes]]:
    def damage(lines: list[bytes]) -> list[bytes]:
        return [change(text) if i == line - 1 else text for i, text in enumerate(lines)]

    return damage


# case -> (how the lines are damaged, the line named in the refusal)
DAMAGE: dict[str, tuple[Callable[[list[bytes]], list[bytes]], int]] = {
    "quote left open": (_swallowing, 2),
    "line break inside a quoted value": (_at(3, lambda t: t.replace(b'"A0', b'"A\n0')), 3),
    "more fields than the header": (_at(3, lambda t: t.rstrip(b"\n") + b",extra\n"), 3),
    "fewer fields than the header": (_at(3, lambda t: t.split(b",", 1)[1]), 3),
    "blank line": (_at(3, lambda t: b"\n" + t), 3),
    "NUL byte": (_at(3, lambda t: t.replace(b"male", b"ma\0le", 1)), 3),
    "carriage return inside a line": (_at(3, lambda t: t.replace(b",", b"\r,", 1)), 3),
    "not UTF-8": (_at(3, lambda t: t.replace(b'"A0', b'"A\xff0')), 3),
    "oversized field": (_at(3, lambda t: t.replace(b'"A0', b'"A' + b"x" * BIG + b"0")), 3),
    "oversized header": (_at(1, lambda t: t.replace(b'"age"', b'"' + b"a" * BIG + b'"')), 1),
    "header naming a column twice": (_at(1, lambda t: t.replace(b'"sex"', b'"age"')), 1),
    "empty file": (lambda lines: [], 1),
}


def write_damaged(case: str, path: Path) -> int:
    """Write the book damaged as `case` says; the line the scorer must name."""
    damage, line = DAMAGE[case]
    path.write_bytes(b"".join(damage(book_lines())))
    return line
