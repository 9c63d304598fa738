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
from contract.flags import NOT_A_FLAG
from scoring.errors import JobRefused
from scoring.values import feature_values
from service.validation.validator import RequestValidator

REASONS_COLUMN = "rejected_reasons"  # the rejects output's one added column
RECORD_KEYS = ("applicant_id", "policy_number")  # carried by default: they name a record
FLAG_REASON = f"{NOT_A_FLAG[0].upper()}{NOT_A_FLAG[1:]}."  # worded as the service's reasons


@dataclass(frozen=True)
class ColumnPlan:
    """What each input column is: a feature, an optional request field, or an id carried through."""

    features: tuple[Feature, ...]
    optional: tuple[Feature, ...]  # request fields a row may leave null (the amount applied for)
    id_columns: tuple[str, ...]
    input_schema: pa.Schema
    from_text: bool = False  # CSV: every column is text, read as JSON reads a value

    @property
    def checked(self) -> tuple[Feature, ...]:
        return self.features + self.optional


def plan_columns(
    schema: pa.Schema,
    features: tuple[Feature, ...],
    optional: tuple[Feature, ...],
    validator: RequestValidator,
    id_columns: tuple[str, ...] | None,
    from_text: bool = False,
    reserved: frozenset[str] = frozenset(),
    csv_options: tuple[str, ...] = (),
) -> ColumnPlan:
    """Match the input's columns to the declaration, or refuse the job naming every problem.

    Without `id_columns`, the input's identifiers that name a record (RECORD_KEYS, where the
    declaration lists them) are carried through; other identifiers (a name, an SSN, an address)
    are personal data, carried only when named.
    `reserved` are the outputs' own column names; `csv_options` name the options writing an
    output as CSV (`--format`, `--rejects-format`), which holds no nested id column.
    """
    names = list(schema.names)
    declared = {f.name: f for f in (*features, *optional)}
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise JobRefused(f"the input's columns appear more than once: {', '.join(repeated)}")
    problems: list[str] = []
    if id_columns is None:
        id_columns = tuple(
            n for n in names if n in RECORD_KEYS and validator.prohibited.get(n) == "identifier"
        )
    if repeated_ids := sorted({n for n in id_columns if id_columns.count(n) > 1}):
        problems.append(f"id columns named more than once: {', '.join(repeated_ids)}")
    for name in id_columns:
        if name not in names:
            problems.append(f"id column {name!r} is not in the input")
        elif name in declared:
            problems.append(f"id column {name!r} is a feature of the model, not an id")
        elif name in reserved:
            problems.append(f"id column {name!r} has the name of an output column")
        elif csv_options and pa.types.is_nested(schema.field(name).type):
            problems.append(
                f"id column {name!r} is {schema.field(name).type}: CSV output "
                f"holds flat values only (use {' parquet, '.join(csv_options)} parquet)"
            )
    for name in names:
        if _is_view(schema.field(name).type):
            problems.append(
                f"column {name!r} is {schema.field(name).type}: write it as string or binary"
            )
    for name in names:
        kind = validator.prohibited.get(name)
        if kind == "protected attribute":
            problems.append(
                f"{name!r} is a protected attribute: it must not be sent and is "
                "never used (remove the column)"
            )
        elif name not in declared and name not in id_columns:
            what = "an identifier" if kind else "not a feature of the model"
            problems.append(
                f"column {name!r} is {what}: carry it through with --id-columns, or remove it"
            )
    missing = [f.name for f in features if f.name not in names]
    if missing:
        problems.append(
            f"missing feature columns (Missing data for required field.): {', '.join(missing)}"
        )
    for feature in (*features, *optional):
        if feature.name in names and not from_text:
            kind_problem = _type_problem(feature, schema.field(feature.name).type)
            if kind_problem:
                problems.append(kind_problem)
    if problems:
        raise JobRefused(
            "the input does not fit the model's declaration:\n  " + "\n  ".join(problems)
        )
    present = tuple(f for f in optional if f.name in names)
    return ColumnPlan(features, present, tuple(id_columns), schema, from_text)


def _type_problem(feature: Feature, kind: pa.DataType) -> str | None:
    """Say why a column's type cannot hold the feature's values, or None."""
    if pa.types.is_null(kind):
        return None  # every value is null: each row is refused as null
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    fits = {
        "integer": numeric,
        "number": numeric,
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
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_view(kind: pa.DataType) -> bool:
    return pa.types.is_string_view(kind) or pa.types.is_binary_view(kind)


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
        given = feature_values(feature, batch.column(feature.name), plan.from_text)
        ok, values = _check_column(feature, given.array, optional=feature in plan.optional)
        if given.unreadable is not None:
            ok &= ~given.unreadable
        valid &= ok
        typed[feature.name] = values
    columns = {name: values[valid] for name, values in typed.items()}
    requested = None
    for feature in plan.optional:
        requested = columns.pop(feature.name).astype(np.float64)
    return Checked(valid, columns, requested)


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
    """The service's own reasons (JSON: field -> messages) for each of `rows`, all invalid;
    for CSV text that spells no flag, what to write instead (JSON's message, "got a string",
    would not say)."""
    records, not_flags = _as_requests(rows, plan)
    try:
        validator.rows.load(records)
    except ValidationError as exc:
        messages: Any = exc.messages
    else:
        messages = {}
    if set(messages) != set(range(len(records))):
        accepted = sorted(set(range(len(records))) - set(messages))
        raise AssertionError(
            f"the service's schema accepts rows the batch check refused: "
            f"{[records[i] for i in accepted[:3]]}"
        )
    for i, name in not_flags:
        messages[i][name] = [FLAG_REASON]
    return [orjson.dumps(dict(sorted(messages[i].items()))).decode() for i in range(len(records))]


def _as_requests(
    rows: pa.RecordBatch, plan: ColumnPlan
) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """The rows as a client would send them: values typed as the service types them, whole
    numbers of an integer column as integers, unreadable text as the text it is, and an
    optional field left out where null; and where (row, field) a flag's text spelled none."""
    records: list[dict[str, Any]] = [{} for _ in range(rows.num_rows)]
    not_flags: list[tuple[int, str]] = []
    for feature in plan.checked:
        given = feature_values(feature, rows.column(feature.name), plan.from_text)
        values = given.array.to_pylist()
        if given.unreadable is not None and given.text is not None and given.unreadable.any():
            text = given.text.to_pylist()
            values = [
                t if bad else v for v, t, bad in zip(values, text, given.unreadable, strict=True)
            ]
            if feature.type == "boolean":
                not_flags += [(int(i), feature.name) for i in np.flatnonzero(given.unreadable)]
        for record, value in zip(records, values, strict=True):
            if feature.type == "integer" and type(value) is float and value.is_integer():
                value = int(value)
            if value is None and feature in plan.optional:
                continue
            record[feature.name] = value
    return records, not_flags


def field_counts(reasons: Iterable[str]) -> dict[str, int]:
    """How many rejected rows each field failed in."""
    counts: dict[str, int] = {}
    for text in reasons:
        for field in orjson.loads(text):
            counts[field] = counts.get(field, 0) + 1
    return counts
