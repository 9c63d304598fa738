"""Validated records packed once per request into the arrays a runtime's model call takes.

Two packings, one per runtime:
- `DtypeGroups` (TensorFlow): one [N, k] array per tensor dtype (int64, float64, bool, string);
  four conversions per call instead of 23, unpacked into the signature's columns in the graph.
- `NumbersAndIndices` (LiteRT): contract.packing's float32 numbers and int32 category indices,
  the LiteRT export's own inputs (no strings reach the model). It is the one packer of that
  layout: the drift windows read a TensorFlow batch through it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from contract.dtypes import NUMPY_DTYPES, TENSOR_DTYPE_BY_FEATURE_TYPE
from contract.features import Feature
from contract.packing import PackedLayout
from service.validation.records import ValidRecords, row_values


@dataclass(frozen=True)
class Batch:
    """N validated records, packed: the arrays one model call takes."""

    arrays: tuple[np.ndarray, ...]
    size: int


class Packer(Protocol):
    """Packs validated records (rows or equally long columns) for one runtime.

    Records and columns are read by feature name only (`row[name]`), so dicts and the typed
    decoder's structs pack alike.
    """

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> Batch:
        """Pack validated records."""

    def columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Batch:
        """Pack validated, equally long columns."""

    def numbers_and_indices(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """The batch as contract.packing's float32 numbers and int32 category indices."""


def pack(packer: Packer, records: ValidRecords) -> Batch:
    """Pack validated records, rows or columns, for the packer's runtime."""
    if records.rows is not None:
        return packer.rows(records.rows)
    assert records.columns is not None
    return packer.columns(records.columns)


@dataclass(frozen=True)
class DtypeGroups:
    """The declared features grouped by tensor dtype, in declaration order within a group."""

    groups: tuple[tuple[str, tuple[str, ...]], ...]  # (dtype name, feature names)
    litert: NumbersAndIndices  # the same records in contract.packing's layout, for the drift

    @classmethod
    def of(cls, features: tuple[Feature, ...]) -> DtypeGroups:
        """Group a feature declaration by the dtype each feature type travels as."""
        groups: dict[str, list[str]] = {}
        for feature in features:
            groups.setdefault(TENSOR_DTYPE_BY_FEATURE_TYPE[feature.type], []).append(feature.name)
        grouped = tuple((dtype, tuple(names)) for dtype, names in groups.items())
        return cls(grouped, NumbersAndIndices.of(features))

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> Batch:
        arrays = tuple(
            np.array([[row[name] for name in names] for row in rows], dtype=NUMPY_DTYPES[dtype])
            for dtype, names in self.groups
        )
        return Batch(arrays, len(rows))

    def columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Batch:
        arrays = tuple(
            np.ascontiguousarray(
                np.array([columns[name] for name in names], dtype=NUMPY_DTYPES[dtype]).T
            )
            for dtype, names in self.groups
        )
        return Batch(arrays, len(columns[self.groups[0][1][0]]))

    def numbers_and_indices(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """Regroup the dtype arrays in contract.packing's layout (strings become indices)."""
        column: dict[str, Any] = {}
        for (dtype, names), array in zip(self.groups, batch.arrays, strict=True):
            for j, name in enumerate(names):
                values = array[:, j]
                column[name] = [_text(v) for v in values] if dtype == "string" else values
        return self.litert.numbers_and_indices(self.litert.columns(column))


@dataclass(frozen=True)
class NumbersAndIndices:
    """Float32 numbers and int32 category indices, in contract.packing's column order."""

    numbers: tuple[str, ...]
    categories: tuple[str, ...]
    indices: tuple[dict[str, int], ...]  # per category feature: value -> its index

    @classmethod
    def of(cls, features: tuple[Feature, ...]) -> NumbersAndIndices:
        """Derive the packing from a feature declaration."""
        layout = PackedLayout.of(features)
        indices = tuple({v: i for i, v in enumerate(vocab)} for _, vocab in layout.categories)
        return cls(layout.numbers, layout.category_names, indices)

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> Batch:
        size = len(rows)
        numbers = np.array(row_values(rows, self.numbers), dtype=np.float32)
        indices = self.indices
        categories = np.array(
            [
                [index[value] for index, value in zip(indices, values, strict=True)]
                for values in row_values(rows, self.categories)
            ],
            dtype=np.int32,
        )
        shape = (size, len(self.numbers)), (size, len(self.categories))
        return Batch((numbers.reshape(shape[0]), categories.reshape(shape[1])), size)

    def columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Batch:
        size = len(columns[(self.numbers or self.categories)[0]])
        numbers = np.empty((size, len(self.numbers)), dtype=np.float32)
        for j, name in enumerate(self.numbers):
            numbers[:, j] = columns[name]
        categories = np.empty((size, len(self.categories)), dtype=np.int32)
        for j, (name, index) in enumerate(zip(self.categories, self.indices, strict=True)):
            categories[:, j] = _indices(columns[name], index)
        return Batch((numbers, categories), size)

    def numbers_and_indices(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """The batch as it is: this packing is contract.packing's layout."""
        return batch.arrays[0], batch.arrays[1]


def _indices(values: Sequence[Any] | np.ndarray, index: dict[str, int]) -> Any:
    """Each value's category index: a lookup per value, or over an array (a book's column) one
    comparison per category."""
    if not isinstance(values, np.ndarray):
        return [index[value] for value in values]
    found = np.full(len(values), -1, dtype=np.int32)
    for value, i in index.items():
        found[values == value] = i
    if (found < 0).any():  # validated records never get here: a caller's bug, not a client's
        raise ValueError(f"a value outside the categories {sorted(index)}")
    return found


def _text(value: Any) -> str:
    """A string tensor's element as text (NumPy keeps TensorFlow's strings as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
