"""Records that passed validation: what the validator returns and everything after it takes.

One type for every route in: the marshmallow route and the fast checks (`RequestValidator`),
the typed decoder, and the batch scorer's column checks (held equal to the validator by a
property test). Rows are dicts or the typed decoder's structs; columns are lists or arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
        return [row[name] for row in self.rows]

    def value(self, index: int, name: str) -> Any:
        if self.columns is not None:
            return self.columns[name][index]
        assert self.rows is not None
        return self.rows[index][name]

    def applicant(
        self, index: int, names: Sequence[str], numbers: frozenset[str], optional: str
    ) -> dict[str, Any]:
        """One record as validated: its features (declared numbers as floats, whichever route
        decoded them, so one application has one fingerprint), and the optional field if given.
        """
        if self.columns is not None:
            columns = self.columns
            record = {name: columns[name][index] for name in names}
            extra = _given(columns, optional)
            if extra is not None:
                record[optional] = extra[index]
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


def _given(container: Any, name: str) -> Any:
    """An optional request field's value, or None: the typed decoder's structs never carry one."""
    return container.get(name) if isinstance(container, Mapping) else None
