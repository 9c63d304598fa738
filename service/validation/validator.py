"""Check a whole request against a model's schemas and report every failure at once.

Failures become one `InvalidInput` whose details name each failing record index, field and
reason: `{"records": {"<index>": {"<field>": ["<reason>", ...]}}}`, plus `{"inputs": {...}}` for
column-level problems of the columnar format. Validation runs before, and instead of, the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

from marshmallow import Schema, ValidationError

from contract.features import Feature, ProhibitedFields
from service.errors import InvalidInput
from service.observability import metrics
from service.validation.fast_check import Check, columns_check, field_checks, record_check
from service.validation.records import ValidRecords
from service.validation.schemas import columns_schema, record_schema
from service.validation.typed import TypedRecords

_NOT_AN_OBJECT = "Invalid input type."
_MAX_NAMED = 10  # field names quoted in the one-line summary
# Bounded work and bounded answers, whatever a request below the size limits holds:
MAX_REPORTED_RECORDS = 100  # failing records detailed in one error (the rest counted)
MAX_REPORTED_FIELDS = 25  # failing fields detailed per record (the rest counted)
EXTRA_FIELDS_ALLOWED = 25  # beyond the declared fields, a record is refused before any check
ENVELOPE_KEYS = 256  # keys of a request's envelope (V2: five per tensor), beyond its records'


def key_limit(declared_fields: int, max_records: int) -> int:
    """The most JSON object keys a request may hold: max_records records of every declared
    field and the extra ones allowed, and the envelope's keys (a bound checked before parsing)."""
    return max_records * (declared_fields + EXTRA_FIELDS_ALLOWED) + ENVELOPE_KEYS


@dataclass(frozen=True)
class RequestValidator:
    """The schemas of one model version and the fields it must refuse by name."""

    rows: Schema
    columns: Schema
    declared: frozenset[str]
    prohibited: dict[str, str]  # field name -> "protected attribute" | "identifier"
    # Fast acceptance of valid input (validation.fast_check); None: always ask marshmallow.
    accepts_row: Check | None = None
    accepts_columns: Check | None = None
    # The same declaration as msgspec types, for protocols that decode and check in one pass.
    typed: TypedRecords | None = None

    @classmethod
    def from_declaration(
        cls,
        features: tuple[Feature, ...],
        prohibited_fields: ProhibitedFields,
        optional: tuple[Feature, ...] = (),
    ) -> RequestValidator:
        """Build the row and column schemas from a feature declaration.

        `optional` fields (a decision's requested amount) are request fields, not features: the
        fast checks and typed decoder accept records without them and leave the others to
        marshmallow, which checks them like any declared field.
        """
        names = (*prohibited_fields.identifiers, *prohibited_fields.protected)
        prohibited = {name: str(prohibited_fields.kind(name)) for name in names}
        # Every label the rejection counter can take, at 0 from the start: rate() and the
        # dashboard see a series before the first rejection of a field.
        for label in (*(f.name for f in (*features, *optional)), *names, "_schema", "_unknown"):
            metrics.REJECTED_RECORDS.labels(label)
        rows = record_schema(features)(many=True)
        checks = field_checks(rows)
        if optional:
            rows = record_schema(features, optional=optional)(many=True)
        return cls(
            rows=rows,
            columns=columns_schema(features, optional=optional)(),
            declared=frozenset(f.name for f in (*features, *optional)),
            prohibited=prohibited,
            accepts_row=None if checks is None else record_check(checks),
            accepts_columns=None if checks is None else columns_check(checks),
            typed=TypedRecords.of(features),
        )

    def rows_valid(self, rows: Any, max_records: int) -> ValidRecords:
        """Return the validated records of the row format or raise InvalidInput."""
        if not isinstance(rows, list) or not rows:
            reason = "Must be a non-empty array of records."
            raise InvalidInput("'instances' must be a non-empty array", {"instances": [reason]})
        check_count(len(rows), max_records)
        if self.accepts_row is not None and all(map(self.accepts_row, rows)):
            return ValidRecords.of_rows(rows)
        self._refuse_oversized(rows)
        try:
            return ValidRecords.of_rows(list(self.rows.load(rows)))
        except ValidationError as exc:
            raise self._invalid(len(rows), exc.messages, {}) from None

    def columns_valid(self, columns: Any, max_records: int) -> ValidRecords:
        """Return the validated columns of the columnar format or raise InvalidInput."""
        if not isinstance(columns, dict) or not columns:
            reason = "Must be an object: feature name -> array of values."
            raise InvalidInput("'inputs' must be an object of columns", {"inputs": [reason]})
        limit = len(self.declared) + EXTRA_FIELDS_ALLOWED
        if len(columns) > limit:
            named = self._first_unknown(columns)
            reason = f"{len(columns):,} columns, at most {limit} accepted; unknown: {named}"
            metrics.REJECTED_RECORDS.labels("_unknown").inc()
            raise InvalidInput(
                "Invalid input: far more columns than the model's features",
                {"inputs": {"_unknown": [reason]}},
            )
        size = max((len(v) for v in columns.values() if isinstance(v, list)), default=0)
        if size == 0:
            reason = "Columns must hold at least one value."
            raise InvalidInput("'inputs' columns are empty", {"inputs": [reason]})
        check_count(size, max_records)
        if self.typed is not None and self.typed.accepts_columns(columns, size, max_records):
            return ValidRecords.of_columns(columns, size)  # checked in C
        if self.accepts_columns is not None and self.accepts_columns(columns):
            return ValidRecords.of_columns(columns, size)
        try:
            return ValidRecords.of_columns(dict(self.columns.load(columns)), size)
        except ValidationError as exc:
            by_record, by_column = _split_column_errors(exc.messages)
            raise self._invalid(size, by_record, by_column) from None

    def _refuse_oversized(self, rows: list[Any]) -> None:
        """Refuse records with far more fields than declared before checking any field.

        A record of a million made-up keys would otherwise cost a worker a minute and its error
        body tens of megabytes; a valid record has at most the declared fields.
        """
        limit = len(self.declared) + EXTRA_FIELDS_ALLOWED
        oversized = [i for i, row in enumerate(rows) if isinstance(row, dict) and len(row) > limit]
        if not oversized:
            return
        errors = {}
        for i in oversized[:MAX_REPORTED_RECORDS]:
            named = self._first_unknown(rows[i])
            errors[i] = {
                "_unknown": [
                    f"{len(rows[i]):,} fields, at most {limit} accepted; "
                    f"unknown fields include {named}"
                ]
            }
        raise self._invalid(len(rows), errors, {}, failed=len(oversized))

    def _first_unknown(self, fields: dict[str, Any]) -> str:
        """The first few unknown field names, quoted (never a walk through all of them)."""
        unknown = (k for k in fields if k not in self.declared and k not in self.prohibited)
        return ", ".join(repr(k) for k in islice(unknown, _MAX_NAMED))

    def _invalid(
        self, size: int, by_record: Any, by_column: dict[str, Any], failed: int | None = None
    ) -> InvalidInput:
        """Turn marshmallow's messages into the error envelope and count rejections.

        At most MAX_REPORTED_RECORDS records and MAX_REPORTED_FIELDS fields of each are
        detailed; `omitted` counts the rest, so the answer stays small whatever was sent.
        """
        failed = len(by_record) if failed is None else failed
        records: dict[str, dict[str, Any]] = {}
        omitted_fields = 0
        for i, errors in sorted(by_record.items())[:MAX_REPORTED_RECORDS]:
            fields = sorted(errors, key=lambda f: (f not in self.prohibited, f))
            records[str(i)] = {f: self._explain(f, errors[f]) for f in fields[:MAX_REPORTED_FIELDS]}
            omitted_fields += max(0, len(fields) - MAX_REPORTED_FIELDS)
        columns = {f: self._explain(f, m) for f, m in by_column.items()}
        failing = {f for errors in by_record.values() for f in errors} | set(columns)
        for errors in [*by_record.values(), columns]:
            for label in {self._label(field) for field in errors}:
                metrics.REJECTED_RECORDS.labels(label).inc()
        details: dict[str, Any] = {"records": records} | ({"inputs": columns} if columns else {})
        omitted_records = failed - len(records)
        if omitted_records or omitted_fields:
            details["omitted"] = {"records": omitted_records, "fields": omitted_fields}
        return InvalidInput(self._summary(failed, size, failing), details)

    def _explain(self, field: str, messages: list[str]) -> list[str]:
        """Call out prohibited fields by name; make the non-object message say what to send."""
        if field in self.prohibited:
            kind = self.prohibited[field]
            return [f"'{field}' is {_article(kind)} {kind}: it must not be sent and is never used."]
        if field == "_schema" and messages == [_NOT_AN_OBJECT]:
            return ["Each record must be a JSON object of feature values."]
        return messages

    def _label(self, field: str) -> str:
        """Bound the metric label: declared or prohibited names only."""
        if field in self.declared or field in self.prohibited or field == "_schema":
            return field
        return "_unknown"

    def _summary(self, failed: int, size: int, failing: set[str]) -> str:
        """Write the one-line summary, naming prohibited fields first."""
        text = f"Invalid input: {failed} of {size} records failed validation"
        if failed == 0:
            text = "Invalid input: the columns do not match the model's features"
        banned = sorted(f for f in failing if f in self.prohibited)
        if banned:
            named = ", ".join(f"'{f}' ({self.prohibited[f]})" for f in banned)
            text += f"; prohibited fields must not be sent: {named}"
        others = sorted(failing - set(banned))
        if others:
            more = f" and {len(others) - _MAX_NAMED} more" if len(others) > _MAX_NAMED else ""
            text += f"; fields: {', '.join(others[:_MAX_NAMED])}{more}"
        return text


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def check_count(size: int, max_records: int) -> None:
    """Refuse more records than one request may carry (400, before any per-record work).

    A 400, not a 413: the documented schema bounds every array by the limit, and a request past
    a schema bound is invalid input (413 is for a body over its byte limit)."""
    if size > max_records:
        raise InvalidInput(
            f"Too many records: {size} (at most {max_records} per request)",
            {"records": size, "max_records": max_records},
        )


def _split_column_errors(messages: Any) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Separate per-value errors (by record index) from whole-column errors."""
    by_record: dict[int, dict[str, Any]] = {}
    by_column: dict[str, Any] = {}
    for field, errors in messages.items():
        if isinstance(errors, dict):
            for index, reasons in errors.items():
                by_record.setdefault(int(index), {})[field] = reasons
        else:
            by_column[field] = errors
    return by_record, by_column
