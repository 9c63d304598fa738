"""Each row of a book checked against the served declaration, by the service's own rules.

Column-level problems (a missing feature, a protected attribute, a column of the wrong type)
refuse the whole job before anything is scored: every row would fail alike. Row-level checks
are vectorised over Arrow columns to find the valid rows; the few invalid ones are then handed
to the service's own marshmallow schema, which words their reasons exactly as the service
answers a request. A test holds the vectorised checks equal to the schema's verdicts.

One deliberate difference from JSON: a file types a whole column. An integer feature stored as
floating point (pandas writes integer columns holding nulls so) is accepted where a value is a
whole number; 42.5 there is refused as the service refuses it, and a null is refused as null.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from marshmallow import ValidationError

from contract.features import Feature
from scoring.errors import JobRefused
from service.validation.validator import RequestValidator

REASONS_COLUMN = "rejected_reasons"  # the rejects output's one added column


@dataclass(frozen=True)
class ColumnPlan:
    """What each input column is: a feature, an optional request field, or an id carried through."""

    features: tuple[Feature, ...]
    optional: tuple[Feature, ...]  # request fields a row may leave null (the amount applied for)
    id_columns: tuple[str, ...]
    input_schema: pa.Schema

    @property
    def checked(self) -> tuple[Feature, ...]:
        return self.features + self.optional


def plan_columns(
    schema: pa.Schema,
    features: tuple[Feature, ...],
    optional: tuple[Feature, ...],
    validator: RequestValidator,
    id_columns: tuple[str, ...] | None,
) -> ColumnPlan:
    """Match the input's columns to the declaration, or refuse the job naming every problem.

    Without `id_columns`, the input's columns the declaration lists as identifiers
    (applicant_id, policy_number, ...) are carried through: they name a row, they never reach
    the model.
    """
    names = list(schema.names)
    declared = {f.name: f for f in (*features, *optional)}
    problems: list[str] = []
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        problems.append(f"columns appear more than once: {', '.join(repeated)}")
    if id_columns is None:
        id_columns = tuple(n for n in names if validator.prohibited.get(n) == "identifier")
    for name in id_columns:
        if name not in names:
            problems.append(f"id column {name!r} is not in the input")
        elif name in declared:
            problems.append(f"id column {name!r} is a feature of the model, not an id")
    for name in names:
        kind = validator.prohibited.get(name)
        if kind == "protected attribute":
            problems.append(f"{name!r} is a protected attribute: it must not be sent and is "
                            "never used (remove the column)")  # fmt: skip
        elif name not in declared and name not in id_columns:
            what = "an identifier" if kind else "not a feature of the model"
            problems.append(f"column {name!r} is {what}: carry it through with --id-columns, "
                            "or remove it")  # fmt: skip
    missing = [f.name for f in features if f.name not in names]
    if missing:
        problems.append(f"missing feature columns (Missing data for required field.): "
                        f"{', '.join(missing)}")  # fmt: skip
    for feature in (*features, *optional):
        if feature.name in names:
            kind_problem = _type_problem(feature, schema.field(feature.name).type)
            if kind_problem:
                problems.append(kind_problem)
    if problems:
        raise JobRefused("the input does not fit the model's declaration:\n  " +
                         "\n  ".join(problems))  # fmt: skip
    present = tuple(f for f in optional if f.name in names)
    return ColumnPlan(features, present, tuple(id_columns), schema)


def _type_problem(feature: Feature, kind: pa.DataType) -> str | None:
    """Say why a column's type cannot hold the feature's values, or None."""
    if pa.types.is_null(kind):
        return None  # every value is null: each row is refused as null
    fits = {
        "integer": pa.types.is_integer(kind) or pa.types.is_floating(kind),
        "number": pa.types.is_integer(kind) or pa.types.is_floating(kind),
        "boolean": pa.types.is_boolean(kind),
        "category": _is_text(kind),
    }[feature.type]
    if fits:
        return None
    wanted = f"{_article(feature.type)} {feature.type}"
    return f"column {feature.name!r} is {kind}; the feature is {wanted}"


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_string_view(kind))
    )


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


@dataclass(frozen=True)
class Checked:
    """One batch's verdict: which rows are valid, and their values as typed NumPy columns."""

    valid: np.ndarray  # bool [rows]
    columns: dict[str, np.ndarray]  # per checked field, the valid rows' values
    requested: np.ndarray | None  # float64 per valid row, NaN where no amount was asked


def check(batch: pa.RecordBatch, plan: ColumnPlan) -> Checked:
    """Find the valid rows of `batch` and return their values, typed as the service types them."""
    valid = np.ones(batch.num_rows, dtype=bool)
    typed: dict[str, np.ndarray] = {}
    for feature in plan.checked:
        array = _plain_array(batch.column(feature.name))
        ok, values = _check_column(feature, array, optional=feature in plan.optional)
        valid &= ok
        typed[feature.name] = values
    columns = {name: values[valid] for name, values in typed.items()}
    requested = None
    for feature in plan.optional:
        requested = columns.pop(feature.name).astype(np.float64)
    return Checked(valid, columns, requested)


def _plain_array(array: pa.Array) -> pa.Array:
    """A dictionary-encoded column as its plain values (categories compare as text)."""
    if pa.types.is_dictionary(array.type):
        return array.dictionary_decode()
    return array


def _check_column(feature: Feature, array: pa.Array, optional: bool) -> tuple[np.ndarray, Any]:
    """Where one column's values are acceptable, and the values as the service would type them."""
    present = _to_numpy(array.is_valid(), bool)
    kind = array.type
    if pa.types.is_null(kind):
        return np.zeros(len(array), bool) | optional, np.full(len(array), np.nan)
    if feature.type == "category":
        allowed = pa.array(feature.categories or (), type=pa.string())
        text = array.cast(pa.string())
        ok = _to_numpy(pc.fill_null(pc.is_in(text, value_set=allowed), False), bool)
        return ok, text.to_numpy(zero_copy_only=False)
    if feature.type == "boolean":
        return present, _to_numpy(array.fill_null(False), bool)
    floating = pa.types.is_floating(kind)
    values = array.fill_null(0).to_numpy(zero_copy_only=False)
    ok = present.copy()
    if floating:
        values = values.astype(np.float64)
        ok &= np.isfinite(values)
        if feature.type == "integer":
            ok &= np.floor(values) == values
    with np.errstate(invalid="ignore"):
        if feature.minimum is not None:
            ok &= values >= feature.minimum
        if feature.maximum is not None:
            ok &= values <= feature.maximum
    if feature.type == "integer":
        values = np.where(ok, values, 0).astype(np.int64)
    else:
        values = values.astype(np.float64)
    if optional:  # a null asks for no amount: NaN, as a record without the field
        ok |= ~present
        values = np.where(present, values, np.nan)
    return ok, values


def _to_numpy(array: pa.Array, dtype: type) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def reasons_for(rows: pa.RecordBatch, plan: ColumnPlan, validator: RequestValidator) -> list[str]:
    """The service's own reasons (JSON: field -> messages) for each of `rows`, all invalid."""
    records = [_as_request(row, plan) for row in rows.select(_checked_names(plan)).to_pylist()]
    try:
        validator.rows.load(records)
    except ValidationError as exc:
        messages: Any = exc.messages
    else:
        messages = {}
    if set(messages) != set(range(len(records))):
        accepted = sorted(set(range(len(records))) - set(messages))
        raise AssertionError(f"the service's schema accepts rows the batch check refused: "
                             f"{[records[i] for i in accepted[:3]]}")  # fmt: skip
    return [orjson.dumps(dict(sorted(messages[i].items()))).decode() for i in range(len(records))]


def _checked_names(plan: ColumnPlan) -> list[str]:
    return [f.name for f in plan.checked]


def _as_request(row: dict[str, Any], plan: ColumnPlan) -> dict[str, Any]:
    """A row as a request would carry it: whole numbers of an integer column as integers,
    and an optional field left out where null."""
    record = dict(row)
    for feature in plan.features:
        value = record.get(feature.name)
        if feature.type == "integer" and type(value) is float and value.is_integer():
            record[feature.name] = int(value)
    for feature in plan.optional:
        if record.get(feature.name) is None:
            record.pop(feature.name, None)
    return record


def field_counts(reasons: Iterable[str]) -> dict[str, int]:
    """How many rejected rows each field failed in."""
    counts: dict[str, int] = {}
    for text in reasons:
        for field in orjson.loads(text):
            counts[field] = counts.get(field, 0) + 1
    return counts
