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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contract.dtypes import numpy_dtype
from contract.features import Feature
from training.dataset import Dataset
from training.features import CLASS_NAMES, FEATURES, FEATURES_BY_NAME, PROHIBITED

LABEL_COLUMNS = ("risk_class", "max_coverage")
MIN_ROWS = 100  # train, validation and test splits each need rows
MAX_REPORTED_GROUPS = 50  # lines of the grouped report; the total is always given
LINES_PER_GROUP = 5  # line numbers quoted per kind of problem
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


class DataValidationError(ValueError):
    """The file has problems; `problems` lists every one as 'line N, column C: reason'."""

    def __init__(self, path: Path, found: list[Problem]) -> None:
        self.found = found
        self.problems = [str(p) for p in found]
        super().__init__(report(path, found))


def report(path: Path, found: list[Problem]) -> str:
    """Summarise problems by column and kind: counts and the first lines, capped in length."""
    groups: dict[tuple[str | None, str], list[Problem]] = {}
    for problem in found:
        groups.setdefault((problem.column, problem.kind), []).append(problem)
    lines = [f"{path}: {len(found):,} problem(s), nothing was trained:"]
    for members in list(groups.values())[:MAX_REPORTED_GROUPS]:
        lines.append("  " + _group_line(members))
    if len(groups) > MAX_REPORTED_GROUPS:
        lines.append(f"  ... and {len(groups) - MAX_REPORTED_GROUPS:,} more kinds of problem")
    lines.append(f"{len(found):,} problem(s) in total.")
    return "\n".join(lines)


def _group_line(members: list[Problem]) -> str:
    """One kind of problem in one column: how many rows, an example, the first line numbers."""
    first = members[0]
    numbers = [p.line for p in members if p.line is not None]
    if not numbers:
        return str(first)
    where = f"column {first.column}" if first.column is not None else "row length"
    count = f"{len(members):,} row{'s' if len(members) > 1 else ''}"
    shown = ", ".join(str(n) for n in numbers[:LINES_PER_GROUP])
    more = len(numbers) - LINES_PER_GROUP
    lines = f"line {shown}" + (f" and {more:,} more" if more > 0 else "")
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
    if text not in ("true", "false"):
        raise CellError("is not a boolean (write true or false)", repr(text))
    return text == "true"


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
    return value


def _header_problems(header: list[str]) -> list[Problem]:
    expected = [f.name for f in FEATURES] + list(LABEL_COLUMNS)
    problems = [Problem(1, c, "missing") for c in expected if c not in header]
    for column in header:
        kind = PROHIBITED.kind(column)
        if kind is not None:
            problems.append(Problem(1, column, f"{kind}, never a feature"))
        elif column not in expected:
            problems.append(Problem(1, column, "unknown column"))
    duplicates = sorted({c for c in header if header.count(c) > 1})
    problems += [Problem(1, c, "appears more than once") for c in duplicates]
    return problems


def _parse_rows(reader: Any, header: list[str]) -> tuple[dict[str, list[Any]], list[Problem]]:
    columns: dict[str, list[Any]] = {c: [] for c in header}
    problems: list[Problem] = []
    for line_number, row in enumerate(reader, start=2):
        if len(row) != len(header):
            kind = f"cells, expected {len(header)}"
            problems.append(Problem(line_number, None, kind, str(len(row))))
            continue
        for column, text in zip(header, row, strict=True):
            try:
                if text == "":
                    raise CellError("empty")
                feature = FEATURES_BY_NAME.get(column)
                value = _parse_feature(feature, text) if feature else _parse_label(column, text)
                columns[column].append(value)
            except CellError as error:
                problems.append(Problem(line_number, column, error.kind, error.value))
    return columns, problems


def _coverage_problems(risk_classes: list[int]) -> list[Problem]:
    """Enough rows to fill three splits, and every risk class present to learn it."""
    problems = []
    if len(risk_classes) < MIN_ROWS:
        kind = f"data rows; training needs at least {MIN_ROWS}"
        problems.append(Problem(None, None, kind, f"the file has {len(risk_classes)}"))
    missing = [name for i, name in enumerate(CLASS_NAMES) if i not in set(risk_classes)]
    if risk_classes and missing:
        kind = f"no row is {', '.join(missing)}; every class must appear"
        problems.append(Problem(None, "risk_class", kind))
    return problems


def load_csv(path: Path) -> Dataset:
    """Read and validate the whole file; raise DataValidationError listing every problem."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        problems = _header_problems(header)
        if problems:
            raise DataValidationError(path, problems)
        columns, problems = _parse_rows(reader, header)
    problems += _coverage_problems(columns["risk_class"])
    if problems:
        raise DataValidationError(path, problems)
    features = {f.name: np.asarray(columns[f.name], dtype=numpy_dtype(f.type)) for f in FEATURES}
    return Dataset(
        features=features,
        risk_class=np.asarray(columns["risk_class"], dtype=np.int64),
        max_coverage=np.asarray(columns["max_coverage"], dtype=np.float64),
        source="csv",
    )
