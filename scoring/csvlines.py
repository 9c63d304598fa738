"""A CSV book's structure, checked before any row is scored: every line after the header is one
row with the header's fields, or the job is refused naming the file and the line.

A book's values are numbers, categories and ids, so a line break inside a quoted value is
refused like a quote left open: both would make one row of several lines, and the count of
lines read could no longer be held against the rows scored and rejected. Refused too: a line
with more or fewer fields than the header, a blank line, a NUL byte, a carriage return that
does not end a line, text that is not UTF-8, a field over MAX_FIELD characters, a line over
MAX_LINE bytes, an empty file, a header naming a column twice or not at all.

The common case costs little: byte counts and one line scan in NumPy, and one pass of Arrow's
parser converting a single column. Only a file found damaged is read again line by line in
Python, to name its first bad line.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from scoring.errors import JobRefused
from scoring.stopping import check_stop

MAX_FIELD = 128 * 1024  # characters: Python's csv limit; no value of a book comes near it
MAX_LINE = 1 << 20  # bytes: Arrow's smallest block holds any line up to this
_CHUNK = 16 << 20
_BLOCK = 8 << 20  # Arrow's block while counting rows: at least MAX_LINE
_NUL = b"\0"
_LF, _CR = ord("\n"), ord("\r")
_UNCLOSED = "unexpected end of data"  # the csv module's word for a quote left open

csv.field_size_limit(MAX_LINE + 1)  # measure long fields ourselves, never fail on them


def header(path: Path) -> list[str]:
    """The column names on line 1 (a byte-order mark, as spreadsheets write, is not a name)."""
    with path.open("rb") as handle:
        first = handle.readline(MAX_LINE + 1)
    if not first.strip():
        raise JobRefused(f"{path}: line 1: no header (expected the column names)")
    if len(first) > MAX_LINE:
        raise JobRefused(f"{path}: line 1 (the header): longer than {MAX_LINE:,} bytes")
    problem, names = _parse(first.removeprefix(b"\xef\xbb\xbf"), None)
    if problem:
        raise JobRefused(f"{path}: line 1 (the header): {problem}")
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise JobRefused(f"{path}: line 1 (the header): column {i} has no name")
        if names.index(name) != i - 1:
            raise JobRefused(f"{path}: line 1 (the header): column {name!r} is named twice")
    return names


def data_lines(path: Path, names: list[str]) -> int:
    """The count of rows (lines after the header) in a file whose header is `names`; refuse
    the job, naming the first bad line, unless every line is one whole row."""
    lines, suspect = _scan(path)
    if suspect:
        _refuse_damage(path, len(names))  # or a long line that holds only short fields
    parsed = _parsed_rows(path, names)
    if parsed != lines:
        _refuse_damage(path, len(names))
        # Arrow and Python read some line differently: refuse rather than guess which.
        raise JobRefused(
            f"{path}: lines 2-{lines + 1}: {lines:,} lines but {max(parsed, 0):,} rows parsed"
        )
    return lines


def _refuse_damage(path: Path, width: int) -> None:
    problem = _first_problem(path, width)
    if problem is not None:
        raise JobRefused(f"{path}: {problem}")


def _scan(path: Path) -> tuple[int, bool]:
    """The count of data lines, and whether any line needs a closer look (a NUL byte, a
    carriage return inside a line, a blank line, a long line, bytes that are not UTF-8)."""
    lines, suspect = 0, False
    buffer = bytearray(_CHUNK + MAX_LINE + 1)  # read into in place: no copy of a chunk
    held = 0  # the bytes of an unfinished line, moved to the buffer's front
    with path.open("rb") as handle:
        handle.readline(MAX_LINE + 1)  # the header, checked on its own
        while True:
            check_stop()  # a book of gigabytes takes seconds to scan
            read = handle.readinto(memoryview(buffer)[held : held + _CHUNK])
            size = held + read
            if not read:  # the end: a last line without its line feed is a line too
                if not held:
                    return lines, suspect
                buffer[held] = _LF
                size += 1
            cut = buffer.rfind(b"\n", 0, size) + 1
            if cut:
                data = np.frombuffer(buffer, np.uint8, count=cut)
                lines_here, damaged = _lines(buffer, data)
                lines, suspect = lines + lines_here, suspect or damaged
            held = size - cut
            if held > MAX_LINE:
                return lines, True  # a line with no end in sight
            buffer[:held] = buffer[cut:size]  # the same length: moved, never resized
            if not read:
                return lines, suspect


def _lines(buffer: bytearray, data: np.ndarray) -> tuple[int, bool]:
    """The count of whole lines in `data` (a view of `buffer`, ending with a line feed), and
    whether one may be damaged: cheap tests over the bytes, never a line at a time."""
    end = len(data)
    ends = np.flatnonzero(data == _LF)
    lengths = np.diff(ends, prepend=-1)  # each line's bytes with its line feed
    # The longest line bounds the longest field: only a long line is read field by field.
    if buffer.find(_NUL, 0, end) >= 0 or int(lengths.max()) > MAX_FIELD or (lengths == 1).any():
        return len(ends), True
    if buffer.find(b"\r", 0, end) >= 0:
        returns = np.flatnonzero(data == _CR)
        if (data[returns + 1] != _LF).any() or (data[ends[lengths == 2] - 1] == _CR).any():
            return len(ends), True  # a carriage return inside a line, or a blank \r\n line
    if int(data.max()) >= 0x80:  # ASCII is UTF-8: only other bytes are decoded
        try:
            codecs.utf_8_decode(memoryview(buffer)[:end], "strict", True)
        except UnicodeDecodeError:
            return len(ends), True
    return len(ends), False


def _parsed_rows(path: Path, names: list[str]) -> int:
    """The rows Arrow's parser finds (one column converted; every row's fields counted), or
    -1 when a row has the wrong number of fields or cannot be read."""
    ragged = False

    def invalid(row: pacsv.InvalidRow) -> str:
        nonlocal ragged
        ragged = True
        return "skip"

    options = pacsv.ConvertOptions(include_columns=names[:1], column_types={names[0]: pa.string()})
    try:
        with pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BLOCK),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
            convert_options=options,
        ) as reader:
            rows = 0
            for batch in reader:
                check_stop()
                rows += batch.num_rows
    except pa.ArrowInvalid:
        return -1
    return -1 if ragged else rows


def _first_problem(path: Path, width: int) -> str | None:
    """The first bad line of a file, read line by line, in words; None if every line is a
    row of `width` fields."""
    for number, raw in _numbered_lines(path):
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            return f"line {number}: longer than {MAX_LINE:,} bytes"
        if number == 1:
            continue  # the header, checked on its own
        problem, _ = _parse(raw, width)
        if problem:
            return f"line {number}: {problem}"
    return None


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_LINE + 1):
            number += 1
            if number % 65_536 == 0:
                check_stop()
            yield number, raw


def _parse(raw: bytes, width: int | None) -> tuple[str | None, list[str]]:
    """One line's fields, or what makes it other than one row of `width` fields."""
    body = raw.removesuffix(b"\n").removesuffix(b"\r")
    if b"\0" in body:
        return f"a NUL byte at column {body.index(_NUL) + 1}", []
    if b"\r" in body:
        return "a carriage return inside the line (lines end with \\n or \\r\\n)", []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start + 1} of the line)", []
    if not text:
        return "a blank line (every line after the header is a row)", []
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        if _UNCLOSED in str(exc):
            return (
                "a quoted value is not closed on its line (a quote left open, or a line "
                "break inside a value)",
                [],
            )
        fields = next(csv.reader([text]))  # strict's other complaints Arrow reads leniently
    if width is not None and len(fields) != width:
        return f"{len(fields)} fields where the header has {width}", fields
    if max(map(len, fields)) > MAX_FIELD:
        i, field = next((i, f) for i, f in enumerate(fields, start=1) if len(f) > MAX_FIELD)
        return f"field {i} holds {len(field):,} characters (at most {MAX_FIELD:,})", fields
    return None, fields
