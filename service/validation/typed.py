"""The feature declaration compiled into msgspec types: valid records decoded and checked in C.

`TypedRecords` accepts exactly the values the marshmallow schemas accept (strict integers,
finite numbers, true/false, declared categories, declared ranges; no missing, null or unknown
fields), and nothing it accepts differs from what marshmallow would return. What it refuses goes
to marshmallow, which says why; so it is a faster route to the same answer, never a second
opinion (a property test holds them equal). A declaration it cannot compile disables it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import GenericAlias
from typing import Annotated, Any, Literal

import msgspec

from contract.features import Feature

# Names and categories that may appear in a JSON key or string on the fast route: the duplicate
# key check counts `":` and needs strings that cannot contain a quote.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. ")


class _Indexable(msgspec.Struct, forbid_unknown_fields=True):
    """A decoded record or set of columns, read by field name like the dict marshmallow gives."""

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


# eq=False: hashed by identity. Each model version compiles its own once, and the protocols
# cache a decoder per TypedRecords; hashing its typing objects cost ~20 us per request.
@dataclass(frozen=True, eq=False)
class TypedRecords:
    """msgspec types of one declaration: a record, and (for N records) their columns."""

    fields: tuple[tuple[str, Any], ...]  # (feature, msgspec type of one value)
    record: type[msgspec.Struct]
    # Every number bounded on both sides: a NaN or an infinity fails a bound. (JSON holds
    # neither; Python values, as a gRPC tensor's, may.)
    bounded: bool = False
    # The exact Python types each feature's values may have (msgspec also takes subclasses,
    # such as numpy's string scalars, which the schemas refuse).
    exact: tuple[tuple[str, frozenset[type]], ...] = ()
    _columns: dict[int, type[msgspec.Struct]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, features: tuple[Feature, ...]) -> TypedRecords | None:
        """Compile the declaration, or None if a name or category is not plainly spelled."""
        texts = [f.name for f in features] + [c for f in features for c in f.categories or ()]
        if not texts or not all(text and set(text) <= _SAFE for text in texts):
            return None
        fields = tuple((f.name, _value_type(f)) for f in features)
        bounded = all(
            f.minimum is not None and f.maximum is not None for f in features if f.type == "number"
        )
        exact = tuple((f.name, _EXACT.get(f.type, _EXACT["number"])) for f in features)
        record = msgspec.defstruct("Record", fields, bases=(_Indexable,))
        return cls(fields, record, bounded, exact)

    def accepts_columns(self, columns: Any, size: int, max_records: int) -> bool:
        """True if Python columns (lists of `size` values each) hold exactly valid values, as
        the JSON decoder would accept them: checked in C, the values left as they are."""
        if not self.bounded or type(columns) is not dict:
            return False
        if any(type(values) is not list or len(values) != size for values in columns.values()):
            return False
        for name, types in self.exact:  # a set of the types present, built in C
            values = columns.get(name)
            if values is not None and not set(map(type, values)) <= types:
                return False
        kind = self._columns.get(max_records)
        if kind is None:  # one type per record limit: defining one costs more than a check
            kind = self._columns[max_records] = self.columns(max_records)
        try:
            msgspec.convert(columns, kind)
        except Exception:  # any refusal: the slower route decides, and says why
            return False
        return True

    @property
    def width(self) -> int:
        """The keys a record object holds."""
        return len(self.fields)

    def columns(self, max_records: int) -> type[msgspec.Struct]:
        """The columns of 1 to max_records records: one list of values per feature."""
        listed = [(name, bounded_list(kind, max_records)) for name, kind in self.fields]
        return msgspec.defstruct("Columns", listed, bases=(_Indexable,))


_EXACT: dict[str, frozenset[type]] = {
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "category": frozenset({str}),
}


def bounded_list(kind: Any, max_items: int) -> Any:
    """The msgspec type of a list of 1 to max_items values of `kind`."""
    length = msgspec.Meta(min_length=1, max_length=max_items)
    return Annotated[GenericAlias(list, (kind,)), length]


def _value_type(feature: Feature) -> Any:
    """The msgspec type of one declared feature's value (required, never null)."""
    if feature.type == "category":
        return Literal[tuple(feature.categories or ())]
    if feature.type == "boolean":
        return bool
    low, high = feature.minimum, feature.maximum
    if feature.type == "integer":  # the integers within fractional bounds are these
        low = None if low is None else math.ceil(low)
        high = None if high is None else math.floor(high)
        kind: type = int
    else:
        kind = float
    return Annotated[kind, msgspec.Meta(ge=low, le=high)]
