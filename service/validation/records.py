"""Records that passed validation: what the validator returns and everything after it takes.

One type for every route in: the marshmallow route and the fast checks (`RequestValidator`),
the typed decoder, and the batch scorer's column checks (held equal to the validator by a
property test). Rows are dicts or the typed decoder's structs; columns are lists or arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from policy.document import REQUESTED_COVERAGE


@dataclass(frozen=True)
class ValidRecords:
    """Validated records, read by index and feature name: one object per applicant, or equally
    long columns (exactly one of the two)."""

    size: int
    rows: Sequence[Any] | None = None  # dicts or typed structs
    # lists, or typed arrays, by feature name (a dict, or the typed decoder's struct read alike)
    columns: Mapping[str, Sequence[Any] | np.ndarray] | None = None

    def __post_init__(self) -> None:
        if (self.rows is None) == (self.columns is None):
            raise ValueError("validated records are rows or columns, exactly one of the two")

    @classmethod
    def of_rows(cls, rows: Sequence[Any]) -> ValidRecords:
        return cls(len(rows), rows=rows)

    @classmethod
    def of_columns(
        cls, columns: Mapping[str, Sequence[Any] | np.ndarray], size: int
    ) -> ValidRecords:
        return cls(size, columns=columns)

    def column(self, name: str) -> Sequence[Any] | np.ndarray:
        if self.columns is not None:
            return self.columns[name]
        assert self.rows is not None
        return [values[0] for values in row_values(self.rows, (name,))]

    def value(self, index: int, name: str) -> Any:
        if self.columns is not None:
            return self.columns[name][index]
        assert self.rows is not None
        return self.rows[index][name]

    def applicants(
        self, names: Sequence[str], numbers: frozenset[str], optional: str
    ) -> list[dict[str, Any]]:
        """Every record as validated: its features (declared numbers as floats, whichever route
        decoded them, so one application has one fingerprint), and the optional field where
        given. Built a column at a time: one pass per feature, not a lookup per value."""
        if self.size == 1 or not names:  # no columns to build (3 us against 9 for one)
            return [self._applicant(i, names, numbers, optional) for i in range(self.size)]
        given: Sequence[Any] | None
        if self.columns is not None:
            columns = [_plain(self.columns[name]) for name in names]
            extra = _given(self.columns, optional)
            given = None if extra is None else _plain(extra)
        else:
            assert self.rows is not None
            columns = _row_columns(self.rows, names)
            given = [_given(row, optional) for row in self.rows]
        for position, name in enumerate(names):
            if name in numbers:
                columns[position] = [float(value) for value in columns[position]]
        records = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        if given is not None:
            for record, value in zip(records, given, strict=True):
                if value is not None:
                    record[optional] = float(value) if optional in numbers else value
        return records

    def _applicant(
        self, index: int, names: Sequence[str], numbers: frozenset[str], optional: str
    ) -> dict[str, Any]:
        """One record, as `applicants` gives each."""
        if self.columns is not None:
            columns = self.columns
            record = {name: _python(columns[name][index]) for name in names}
            extra = _given(columns, optional)
            if extra is not None and extra[index] is not None:
                record[optional] = _python(extra[index])
        else:
            assert self.rows is not None
            row = self.rows[index]
            record = {name: row[name] for name in names}
            if (value := _given(row, optional)) is not None:
                record[optional] = value
        for name in numbers:
            if name in record:
                record[name] = float(record[name])
        return record

    def requested(self) -> np.ndarray | None:
        """Each record's requested amount (NaN where absent), or None if no record has one."""
        name = REQUESTED_COVERAGE.name
        if self.columns is not None:
            given = _given(self.columns, name)
            return None if given is None else np.asarray(given, dtype=np.float64)
        assert self.rows is not None
        values = [_given(row, name) for row in self.rows]
        if all(value is None for value in values):
            return None
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def row_values(rows: Sequence[Any], names: Sequence[str]) -> list[tuple[Any, ...]]:
    """Each row's values of `names`, in order: dicts and the typed decoder's structs alike, each
    row read by one call in C (a struct's `row[name]` is a Python call per value)."""
    if not names:
        return [() for _ in rows]
    read = (itemgetter if rows and isinstance(rows[0], Mapping) else attrgetter)(*names)
    if len(names) == 1:
        return [(value,) for value in map(read, rows)]
    return list(map(read, rows))


def _row_columns(rows: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    """The named columns of dict rows or of the typed decoder's structs."""
    return [list(column) for column in zip(*row_values(rows, names), strict=True)] or [
        [] for _ in names
    ]


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    """A column as a list of Python values (an array's scalars as Python's own)."""
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _python(value: Any) -> Any:
    """An array's scalar as Python's own value (a list's value as it is)."""
    return value.item() if isinstance(value, np.generic) else value


def _given(container: Any, name: str) -> Any:
    """An optional request field's value, or None: the typed decoder's structs never carry one."""
    return container.get(name) if isinstance(container, Mapping) else None
