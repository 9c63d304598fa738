"""Property-based tests generated from the artifact's feature declaration (metadata.json)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from service_support import declared_features

PREDICT = "/v1/models/underwriting:predict"
CLASS_NAMES = {"standard", "substandard", "decline"}
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None)
# JSON values of every kind, for values that are wrong whatever the field.
JUNK = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.fixture(scope="module")
def features(service_models_dir: Path) -> list[dict[str, Any]]:
    return declared_features(service_models_dir)


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


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_valid_batch_is_scored_record_for_record(
    app: Any, features: list[dict[str, Any]], data: st.DataObject
) -> None:
    batch = data.draw(st.lists(record(features), min_size=1, max_size=8))
    response = app.test_client().post(PREDICT, json={"instances": batch})
    assert response.status_code == 200, response.get_json()
    predictions = response.get_json()["predictions"]
    assert len(predictions) == len(batch)
    for prediction in predictions:
        assert sum(prediction["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert prediction["risk_class"] in CLASS_NAMES
        assert math.isfinite(prediction["max_coverage"]) and prediction["max_coverage"] >= 0


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_valid_columns_are_scored_value_for_value(
    app: Any, features: list[dict[str, Any]], data: st.DataObject
) -> None:
    size = data.draw(st.integers(min_value=1, max_value=8))
    columns = {
        f["name"]: data.draw(st.lists(valid_value(f), min_size=size, max_size=size))
        for f in features
    }
    response = app.test_client().post(PREDICT, json={"inputs": columns})
    assert response.status_code == 200, response.get_json()
    outputs = response.get_json()["outputs"]
    assert [len(outputs[k]) for k in ("risk_class", "probabilities", "max_coverage")] == [size] * 3


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_single_invalid_value_is_a_400_naming_that_record_and_field(
    app: Any, features: list[dict[str, Any]], data: st.DataObject
) -> None:
    batch = data.draw(st.lists(record(features), min_size=1, max_size=5))
    index = data.draw(st.integers(min_value=0, max_value=len(batch) - 1))
    feature = data.draw(st.sampled_from(features))
    batch[index][feature["name"]] = data.draw(invalid_value(feature))
    response = app.test_client().post(PREDICT, json={"instances": batch})
    assert response.status_code == 400, response.get_json()
    records = response.get_json()["details"]["records"]
    assert list(records) == [str(index)]
    assert list(records[str(index)]) == [feature["name"]]


@PROPERTY_SETTINGS
@given(data=st.data(), extra=st.text(min_size=1, max_size=12))
def test_any_undeclared_field_is_a_400_naming_it(
    app: Any, features: list[dict[str, Any]], data: st.DataObject, extra: str
) -> None:
    assume(extra not in {f["name"] for f in features})
    batch = [data.draw(record(features)) | {extra: data.draw(JUNK)}]
    response = app.test_client().post(PREDICT, json={"instances": batch})
    assert response.status_code == 400
    assert list(response.get_json()["details"]["records"]["0"]) == [extra]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), value=JSON_VALUES)
def test_the_fast_path_accepts_exactly_what_marshmallow_accepts(
    app: Any, features: list[dict[str, Any]], data: st.DataObject, value: Any
) -> None:
    from marshmallow import ValidationError

    from service.app import STORE_KEY

    validator = app.extensions[STORE_KEY].get("underwriting").validator
    assert validator.accepts_row is not None
    row = data.draw(record(features))
    row[data.draw(st.sampled_from(features))["name"]] = value
    try:
        validator.rows.load([row])
        valid = True
    except ValidationError:
        valid = False
    assert validator.accepts_row(row) == valid
