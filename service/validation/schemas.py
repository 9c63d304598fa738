"""marshmallow schemas derived from an artifact's feature declaration (never written per field).

Types are strict: no silent coercion. "42" is not an integer, true is not 1, 1.5 and 42.0 are
not integers, NaN and Infinity are not numbers, a category must be one of the declared strings.
The schemas carry units and descriptions in field metadata so that apispec can render them.
"""

from __future__ import annotations

import math
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from contract.features import Feature


def _kind(value: Any) -> str:
    """Name a JSON value's type for error messages."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), "an array" if isinstance(value, list) else "an object"
    )


class StrictInteger(fields.Field):
    """A JSON integer: not a boolean, not a string, not a number with a decimal point."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is not int:
            got = f"{value!r}" if type(value) is float else _kind(value)
            raise ValidationError(f"Not a valid integer: got {got}.")
        return value


class StrictNumber(fields.Field):
    """A finite JSON number (integer or decimal), not a boolean or string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                raise ValidationError("Not a valid number: NaN and Infinity are not accepted.")
            return value
        if kind is int:
            return value  # compared against the range as an int; never overflows a float
        raise ValidationError(f"Not a valid number: got {_kind(value)}.")


class StrictBoolean(fields.Field):
    """A JSON true or false, not 0/1 or "true"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if type(value) is not bool:
            raise ValidationError(f"Not a valid boolean: got {_kind(value)}.")
        return value


class Category(fields.Field):
    """One of the declared category strings (case-sensitive)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if type(value) is not str:
            raise ValidationError(f"Not a valid category: got {_kind(value)}.")
        return value


def feature_field(feature: Feature, required: bool = True) -> fields.Field:
    """Build the strict field for one declared feature (required unless said, never null)."""
    kind = feature.type
    described = (("description", feature.description), ("unit", feature.unit))
    metadata = {key: text for key, text in described if text}
    validators: list[validate.Validator] = []
    if kind in ("integer", "number") and (feature.minimum, feature.maximum) != (None, None):
        validators.append(validate.Range(feature.minimum, feature.maximum))
    if kind == "category":
        validators.append(validate.OneOf(feature.categories or ()))
    field_class = {
        "integer": StrictInteger,
        "number": StrictNumber,
        "boolean": StrictBoolean,
        "category": Category,
    }[kind]
    return field_class(required=required, validate=validators, metadata=metadata)


class StrictSchema(Schema):
    """A schema that refuses fields it does not declare."""

    class Meta:
        unknown = RAISE


def record_schema(
    features: tuple[Feature, ...], name: str = "Record", optional: tuple[Feature, ...] = ()
) -> type[Schema]:
    """Return the schema of one applicant record (row format), optional request fields too."""
    declared = {f.name: feature_field(f) for f in features}
    declared |= {f.name: feature_field(f, required=False) for f in optional}
    return StrictSchema.from_dict(declared, name=name)


def unequal_lengths(lengths: dict[str, int]) -> tuple[int, dict[str, int]]:
    """Return the length most columns share and the columns that differ from it."""
    counts = list(lengths.values())
    expected = max(counts, key=counts.count) if counts else 0
    return expected, {name: n for name, n in lengths.items() if n != expected}


class _Columns(StrictSchema):
    @validates_schema(skip_on_field_errors=True)
    def _same_length(self, data: dict[str, list[Any]], **kwargs: Any) -> None:
        """Require every column to be as long as most are; name the ones that are not."""
        lengths = {name: len(values) for name, values in data.items()}
        expected, differ = unequal_lengths(lengths)
        if differ:
            raise ValidationError(
                {
                    name: [f"Has {n} values; the other columns have {expected}."]
                    for name, n in differ.items()
                }
            )


def columns_schema(
    features: tuple[Feature, ...], name: str = "Columns", optional: tuple[Feature, ...] = ()
) -> type[Schema]:
    """Return the schema of the columnar form: one list of values per declared feature."""
    declared: dict[str, fields.Field] = {
        f.name: fields.List(feature_field(f), required=True) for f in features
    }
    declared |= {f.name: fields.List(feature_field(f), required=False) for f in optional}
    return _Columns.from_dict(declared, name=name)
