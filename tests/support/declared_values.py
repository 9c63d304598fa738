"""Hypothesis strategies from a feature declaration: the values it allows and those it forbids."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

# JSON values of every kind, for values that are wrong whatever the field.
JUNK = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def valid_value(feature: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any value the declaration allows for one feature."""
    low: Any = feature.get("minimum")  # present for integers and numbers
    high: Any = feature.get("maximum")
    if feature["type"] == "integer":
        return st.integers(min_value=low, max_value=high)
    if feature["type"] == "number":
        whole = st.integers(min_value=math.ceil(low), max_value=math.floor(high))
        return st.floats(min_value=low, max_value=high, allow_nan=False) | whole
    if feature["type"] == "boolean":
        return st.booleans()
    return st.sampled_from(feature["categories"])


def invalid_value(feature: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any JSON value the declaration forbids for one feature (finite: NaN is not JSON)."""
    kind = feature["type"]
    low: Any = feature.get("minimum")  # present for integers and numbers
    high: Any = feature.get("maximum")
    finite = st.floats(allow_nan=False, allow_infinity=False)
    if kind == "integer":
        out_of_range = st.integers(max_value=low - 1) | st.integers(min_value=high + 1)
        return JUNK | st.booleans() | finite | out_of_range
    if kind == "number":
        below = st.floats(max_value=low, exclude_max=True, allow_infinity=False)
        above = st.floats(min_value=high, exclude_min=True, allow_infinity=False)
        whole = st.integers(max_value=math.floor(low) - 1) | st.integers(
            min_value=math.ceil(high) + 1
        )
        return JUNK | st.booleans() | below | above | whole
    if kind == "boolean":
        return JUNK | st.integers() | finite
    return JUNK.filter(lambda v: v not in feature["categories"]) | st.integers() | st.booleans()


def record(features: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({f["name"]: valid_value(f) for f in features})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)
