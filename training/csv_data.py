"""Load a user's applicants.csv, validating every row against the declaration first.

Every problem is collected (nothing is coerced or dropped); the error then reports them grouped
by column and kind of problem, with counts and the first line numbers, so a file with thousands
of bad rows still gets a short, readable answer.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from contract.dtypes import numpy_dtype
from contract.features import Feature
from contract.flags import NOT_A_FLAG, read_flag
from training.dataset import Dataset
from training.features import CLASS_NAMES, FEATURES, FEATURES_BY_NAME, PROHIBITED

LABEL_COLUMNS = ("risk_class", "max_coverage")
FACE_AMOUNT = "face_amount"  # optional: the amount applied for (a control of the fairness test)
MIN_ROWS = 100  # train, validation and test splits each need rows
MAX_REPORTED_GROUPS = 50  # lines of the grouped report; the total is always given
LINES_PER_GROUP = 5  # line numbers quoted per kind of problem
MAX_KEPT = 1_000  # problems kept one by one; the rest are only counted
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where, what kind of problem, and the offending value."""

    line: int | None  # None: the file as a whole
    column: str | None  # None: the whole row
    kind: str  # what is wrong, without the value: "is not an integer"
    value: str | None = None  # the offending cell as written, shown in the message

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"line {self.line}" if self.line is not None else "",
                f"column {self.column}" if self.column is not None else "",
            )
            if part
        )
        what = self.kind if self.value is None else f"{self.value} {self.kind}"
        return f"{where}: {what}" if where else what


class CellError(ValueError):
    """A cell that does not fit its column: the kind of problem and the value shown."""

    def __init__(self, kind: str, value: str | None = None) -> None:
        super().__init__(kind)
        self.kind, self.value = kind, value


@dataclass
class _Group:
    """One kind of problem in one column: the first instance, how many, their first lines."""

    first: Problem
    count: int = 0
    lines: list[int] = field(default_factory=list)


class Problems:
    """Every problem counted by column and kind; only the first ones kept whole.

    Memory stays bounded whatever the file: a group keeps its first line numbers, and
    `kept` the first MAX_KEPT problems themselves.
    """

    def __init__(self) -> None:
        self.total = 0
        self.kept: list[Problem] = []
        self.groups: dict[tuple[str | None, str], _Group] = {}

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.kept) < MAX_KEPT:
            self.kept.append(problem)
        group = self.groups.setdefault((problem.column, problem.kind), _Group(problem))
        group.count += 1
        if problem.line is not None and len(group.lines) < LINES_PER_GROUP:
            group.lines.append(problem.line)

    def __bool__(self) -> bool:
        return self.total > 0


class DataValidationError(ValueError):
    """The file has problems; `problems` lists the first MAX_KEPT as 'line N, column C: reason'."""

    def __init__(self, path: Path, found: Problems) -> None:
        self.total = found.total
        self.problems = [str(p) for p in found.kept]
        super().__init__(report(path, found))


def report(path: Path, found: Problems) -> str:
    """Summarise problems by column and kind: counts and the first lines, capped in length."""
    groups = list(found.groups.values())
    lines = [f"{path}: {found.total:,} problem(s), nothing was trained:"]
    lines += ["  " + _group_line(group) for group in groups[:MAX_REPORTED_GROUPS]]
    if len(groups) > MAX_REPORTED_GROUPS:
        lines.append(f"  ... and {len(groups) - MAX_REPORTED_GROUPS:,} more kinds of problem")
    lines.append(f"{found.total:,} problem(s) in total.")
    return "\n".join(lines)


def _group_line(group: _Group) -> str:
    """One kind of problem in one column: how many rows, an example, the first line numbers."""
    first = group.first
    if not group.lines:
        return str(first)
    where = f"column {first.column}" if first.column is not None else "row length"
    count = f"{group.count:,} row{'s' if group.count > 1 else ''}"
    more = group.count - len(group.lines)
    lines = f"line {', '.join(map(str, group.lines))}" + (f" and {more:,} more" if more else "")
    example = first.kind if first.value is None else f"{first.value} {first.kind}"
    return f"{where}, {count}: {example} ({lines})"


def _parse_integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise CellError("is not an integer", repr(text))
    return int(text)


def _parse_number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise CellError("is not a finite number", repr(text))
    return float(text)


def _parse_boolean(text: str) -> bool:
    """A flag as contract.flags spells it (TRUE, true, True and their false), as the scorer
    reads a book; the text is not shown: a refusal says what to write instead."""
    value = read_flag(text)
    if value is None:
        raise CellError(NOT_A_FLAG)
    return value


def _parse_feature(feature: Feature, text: str) -> Any:
    """Parse one cell strictly and check it against the declared range or categories."""
    if feature.type == "category":
        if text not in (feature.categories or ()):
            raise CellError(f"is not one of {', '.join(feature.categories or ())}", repr(text))
        return text
    parsers: dict[str, Callable[[str], Any]] = {
        "integer": _parse_integer,
        "number": _parse_number,
        "boolean": _parse_boolean,
    }
    value = parsers[feature.type](text)
    if feature.minimum is not None and value < feature.minimum:
        raise CellError(f"is below the minimum {feature.minimum}", str(value))
    if feature.maximum is not None and value > feature.maximum:
        raise CellError(f"is above the maximum {feature.maximum}", str(value))
    return value


def _parse_label(column: str, text: str) -> Any:
    if column == "risk_class":
        if text not in CLASS_NAMES:
            raise CellError(f"is not one of {', '.join(CLASS_NAMES)}", repr(text))
        return CLASS_NAMES.index(text)
    value = _parse_number(text)
    if not math.isfinite(value) or value < 0:
        raise CellError("is not a non-negative amount", str(value))
    return value  # max_coverage, or the optional face_amount


def _header_problems(header: list[str], problems: Problems, group_column: str | None) -> None:
    expected = [f.name for f in FEATURES] + list(LABEL_COLUMNS)
    for column in [*expected, *([group_column] if group_column else [])]:
        if column not in header:
            problems.add(Problem(1, column, "missing"))
    if group_column in expected:
        problems.add(Problem(1, group_column, "is a feature or label, not a fairness column"))
    for column in header:
        kind = PROHIBITED.kind(column)
        if column == group_column or column == FACE_AMOUNT:  # read for the fairness report only
            continue
        if kind is not None:
            problems.add(Problem(1, column, f"{kind}, never a feature"))
        elif column not in expected:
            problems.add(Problem(1, column, "unknown column"))
    for column in sorted({c for c in header if header.count(c) > 1}):
        problems.add(Problem(1, column, "appears more than once"))


def _parse_rows(
    reader: Any, header: list[str], problems: Problems, group_column: str | None
) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {c: [] for c in header}
    for line_number, row in enumerate(reader, start=2):
        if len(row) != len(header):
            kind = f"cells, expected {len(header)}"
            problems.add(Problem(line_number, None, kind, str(len(row))))
            continue
        for column, text in zip(header, row, strict=True):
            try:
                if text == "":
                    raise CellError("empty")
                feature = FEATURES_BY_NAME.get(column)
                if column == group_column:
                    value: Any = text
                elif feature:
                    value = _parse_feature(feature, text)
                else:
                    value = _parse_label(column, text)
                columns[column].append(value)
            except CellError as error:
                problems.add(Problem(line_number, column, error.kind, error.value))
    return columns


def _coverage_problems(risk_classes: list[int], problems: Problems) -> None:
    """Enough rows to fill three splits, and every risk class present to learn it."""
    if len(risk_classes) < MIN_ROWS:
        kind = f"data rows; training needs at least {MIN_ROWS}"
        problems.add(Problem(None, None, kind, f"the file has {len(risk_classes)}"))
    missing = [name for i, name in enumerate(CLASS_NAMES) if i not in set(risk_classes)]
    if risk_classes and missing:
        kind = f"no row is {', '.join(missing)}; every class must appear"
        problems.add(Problem(None, "risk_class", kind))


def load_csv(path: Path, group_column: str | None = None) -> Dataset:
    """Read and validate the whole file; raise DataValidationError listing every problem.

    `group_column` names a column of protected groups kept for the fairness report (never a
    feature); an optional `face_amount` column (the amount applied for) is kept likewise.
    """
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        problems = Problems()
        _header_problems(header, problems, group_column)
        if problems:
            raise DataValidationError(path, problems)
        columns = _parse_rows(reader, header, problems, group_column)
    _coverage_problems(columns["risk_class"], problems)
    if problems:
        raise DataValidationError(path, problems)
    features = {f.name: np.asarray(columns[f.name], dtype=numpy_dtype(f.type)) for f in FEATURES}
    return Dataset(
        features=features,
        risk_class=np.asarray(columns["risk_class"], dtype=np.int64),
        max_coverage=np.asarray(columns["max_coverage"], dtype=np.float64),
        source="csv",
        groups=np.asarray(columns[group_column], dtype=object) if group_column else None,
        group_column=group_column,
        face_amount=np.asarray(columns[FACE_AMOUNT], dtype=np.float64)
        if FACE_AMOUNT in columns
        else None,
    )
