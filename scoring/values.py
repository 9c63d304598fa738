"""An input column's values as the service would type them, whatever the file made of them.

Dictionary-encoded columns are decoded; float32 and decimals are widened through their shortest
decimal text (132.9 stays 132.9, not 132.89999389648438, so a range bound or a rule compares as
the service compares the value a client sent); and CSV text is read as JSON reads a value: a
number by JSON's grammar, a category as its text, and a flag as contract.flags spells one
(TRUE, true, True and their false, as training reads them). Text that is not a value of the
feature's type is kept, so its row can be rejected with the service's own message for it (for
a flag, what to write instead); an empty field is null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contract.features import Feature
from contract.flags import FLAG_TEXT, TRUE_TEXT

JSON_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


@dataclass(frozen=True)
class Values:
    """One feature's column, typed; and where text could not be read as the feature's type."""

    array: pa.Array  # null where absent or unreadable
    unreadable: np.ndarray | None = None  # bool per row, for text columns only
    text: pa.Array | None = None  # the text as given, for text columns only


def feature_values(feature: Feature, array: pa.Array, from_text: bool) -> Values:
    """The column of `feature` as the service would type its values."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type
    if from_text and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return _read_text(feature, array.cast(pa.string()))
    if pa.types.is_float32(kind) or pa.types.is_decimal(kind):
        return Values(widened(array))
    return Values(array)


def widened(array: pa.Array) -> pa.Array:
    """float32 or a decimal as the float64 nearest its shortest decimal text: 132.9 stays
    132.9 (a direct cast gives 132.89999389648438, or 206.20000000000002 from a decimal)."""
    return array.cast(pa.string()).cast(pa.float64())


def _read_text(feature: Feature, text: pa.Array) -> Values:
    blank = pc.fill_null(pc.equal(text, ""), True)
    given = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    if feature.type in ("integer", "number"):
        readable = pc.fill_null(pc.match_substring_regex(given, JSON_NUMBER), False)
        typed = pc.if_else(readable, given, pa.scalar(None, pa.string())).cast(pa.float64())
    elif feature.type == "boolean":
        readable = pc.fill_null(pc.is_in(given, value_set=pa.array(FLAG_TEXT)), False)
        spells_true = pc.is_in(given, value_set=pa.array(TRUE_TEXT))
        typed = pc.if_else(readable, spells_true, pa.scalar(None, pa.bool_()))
    else:
        return Values(given, np.zeros(len(text), dtype=bool), text)
    unreadable = ~np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool) & ~np.asarray(
        readable.to_numpy(zero_copy_only=False), dtype=bool
    )
    return Values(typed, unreadable, text)
