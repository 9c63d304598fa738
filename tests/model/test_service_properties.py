"""Property-based tests generated from the artifact's feature declaration (metadata.json)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from declared_values import JSON_VALUES, JUNK, invalid_value, record, valid_value
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from service_support import declared_features

PREDICT = "/v1/models/underwriting:predict"
CLASS_NAMES = {"standard", "substandard", "decline"}
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None)


@pytest.fixture(scope="module")
def features(service_models_dir: Path) -> list[dict[str, Any]]:
    return declared_features(service_models_dir)


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
