"""Load a user's applicants.csv, validating every row against the declaration first."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from training.dataset import Dataset
from training.features import (
    CLASS_NAMES,
    FEATURES,
    FEATURES_BY_NAME,
    IDENTIFIERS,
    PROTECTED_ATTRIBUTES,
    Feature,
)
from training.preprocessing import NUMPY_DTYPES

LABEL_COLUMNS = ("risk_class", "max_coverage")
MIN_ROWS = 100  # train, validation and test splits each need rows
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class DataValidationError(ValueError):
    """The file has problems; `problems` lists every one as 'line N, column C: reason'."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was trained:\n{listing}")


def _parse_integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def _parse_number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a finite number")
    return float(text)


def _parse_boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{text!r} is not a boolean (write true or false)")
    return text == "true"


def _parse_feature(feature: Feature, text: str) -> Any:
    """Parse one cell strictly and check it against the declared range or categories."""
    if feature.type == "category":
        if text not in (feature.categories or ()):
            raise ValueError(f"{text!r} is not one of {', '.join(feature.categories or ())}")
        return text
    parsers: dict[str, Callable[[str], Any]] = {
        "integer": _parse_integer,
        "number": _parse_number,
        "boolean": _parse_boolean,
    }
    value = parsers[feature.type](text)
    if feature.minimum is not None and value < feature.minimum:
        raise ValueError(f"{value} is below the minimum {feature.minimum}")
    if feature.maximum is not None and value > feature.maximum:
        raise ValueError(f"{value} is above the maximum {feature.maximum}")
    return value


def _parse_label(column: str, text: str) -> Any:
    if column == "risk_class":
        if text not in CLASS_NAMES:
            raise ValueError(f"{text!r} is not one of {', '.join(CLASS_NAMES)}")
        return CLASS_NAMES.index(text)
    value = _parse_number(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{value} is not a non-negative amount")
    return value


def _header_problems(header: list[str]) -> list[str]:
    expected = [f.name for f in FEATURES] + list(LABEL_COLUMNS)
    problems = [f"line 1, column {c}: missing" for c in expected if c not in header]
    for column in header:
        if column in PROTECTED_ATTRIBUTES:
            problems.append(f"line 1, column {column}: protected attribute, never a feature")
        elif column in IDENTIFIERS:
            problems.append(f"line 1, column {column}: identifier, never a feature")
        elif column not in expected:
            problems.append(f"line 1, column {column}: unknown column")
    duplicates = sorted({c for c in header if header.count(c) > 1})
    problems += [f"line 1, column {c}: appears more than once" for c in duplicates]
    return problems


def _parse_rows(reader: Any, header: list[str]) -> tuple[dict[str, list[Any]], list[str]]:
    columns: dict[str, list[Any]] = {c: [] for c in header}
    problems: list[str] = []
    for line_number, row in enumerate(reader, start=2):
        if len(row) != len(header):
            problems.append(f"line {line_number}: {len(row)} cells, expected {len(header)}")
            continue
        for column, text in zip(header, row, strict=True):
            try:
                if text == "":
                    raise ValueError("empty")
                feature = FEATURES_BY_NAME.get(column)
                value = _parse_feature(feature, text) if feature else _parse_label(column, text)
                columns[column].append(value)
            except ValueError as error:
                problems.append(f"line {line_number}, column {column}: {error}")
    return columns, problems


def _coverage_problems(risk_classes: list[int]) -> list[str]:
    """Enough rows to fill three splits, and every risk class present to learn it."""
    problems = []
    if len(risk_classes) < MIN_ROWS:
        problems.append(
            f"the file has {len(risk_classes)} data rows; training needs at least {MIN_ROWS}"
        )
    missing = [name for i, name in enumerate(CLASS_NAMES) if i not in set(risk_classes)]
    if risk_classes and missing:
        problems.append(
            f"column risk_class: no row is {', '.join(missing)}; every class must appear"
        )
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
    features = {f.name: np.asarray(columns[f.name], dtype=NUMPY_DTYPES[f.type]) for f in FEATURES}
    return Dataset(
        features=features,
        risk_class=np.asarray(columns["risk_class"], dtype=np.int64),
        max_coverage=np.asarray(columns["max_coverage"], dtype=np.float64),
        source="csv",
    )
