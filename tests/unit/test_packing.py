"""Validated records packed for the runtimes: rows and columns, lists and a book's arrays alike."""

from __future__ import annotations

import numpy as np
import pytest

from service.inference.packing import DtypeGroups, NumbersAndIndices, pack
from service.validation.records import ValidRecords
from training.features import FEATURES
from training.synthetic import generate


def test_rows_lists_and_arrays_pack_to_the_same_batch_for_litert_and_tensorflow() -> None:
    columns = {name: np.asarray(values) for name, values in generate(300, 5).features.items()}
    columns = {n: v.astype(object) if v.dtype.kind == "U" else v for n, v in columns.items()}
    lists = {name: values.tolist() for name, values in columns.items()}
    rows = [{name: lists[name][i] for name in lists} for i in range(300)]
    litert = NumbersAndIndices.of(FEATURES)
    packed = [
        pack(litert, ValidRecords.of_rows(rows)),
        pack(litert, ValidRecords.of_columns(lists, 300)),
        pack(litert, ValidRecords.of_columns(columns, 300)),
    ]
    for batch in packed[1:]:
        for mine, theirs in zip(batch.arrays, packed[0].arrays, strict=True):
            assert np.array_equal(mine, theirs)
    grouped = DtypeGroups.of(FEATURES)  # the TensorFlow packing, read in the same layout
    regrouped = grouped.numbers_and_indices(pack(grouped, ValidRecords.of_rows(rows)))
    for mine, theirs in zip(regrouped, packed[0].arrays, strict=True):
        assert np.array_equal(mine, theirs)


def test_a_value_outside_the_categories_is_never_packed_as_some_index() -> None:
    columns = {name: np.asarray(values) for name, values in generate(3, 5).features.items()}
    columns = {n: v.astype(object) if v.dtype.kind == "U" else v for n, v in columns.items()}
    columns["sex"] = np.asarray(["female", "Female", "male"], dtype=object)
    with pytest.raises(ValueError, match="outside the categories"):
        NumbersAndIndices.of(FEATURES).columns(columns)


def test_validated_records_are_rows_or_columns() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ValidRecords(0)
