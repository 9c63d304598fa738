"""Strict validation: no coercion, every failure named by record index and field, all at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY
from service_support import TEST_MAX_RECORDS, applicant_columns, columns_to_rows

PREDICT = "/v1/models/underwriting:predict"


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return columns_to_rows(applicant_columns(rows=3, seed=21))


def predict_raw(client: Any, body: str, route: str = PREDICT) -> Any:
    return client.post(route, data=body, content_type="application/json")


def record_errors(response: Any) -> dict[str, dict[str, list[str]]]:
    assert response.status_code == 400, response.get_data(as_text=True)
    return dict(response.get_json()["details"]["records"])


@pytest.mark.parametrize(
    ("field", "raw_value", "reason"),
    [
        ("age", '"42"', "Not a valid integer: got a string."),
        ("age", "true", "Not a valid integer: got a boolean."),
        ("age", "1.5", "Not a valid integer: got 1.5."),
        ("age", "42.0", "Not a valid integer: got 42.0."),
        ("age", "null", "Field may not be null."),
        ("age", "17", "Must be greater than or equal to 18 and less than or equal to 85."),
        ("age", "[42]", "Not a valid integer: got an array."),
        ("height_cm", '"170"', "Not a valid number: got a string."),
        ("height_cm", "false", "Not a valid number: got a boolean."),
        ("height_cm", "1e999", "Not a valid number: NaN and Infinity are not accepted."),
        ("height_cm", "1e400", "Not a valid number: NaN and Infinity are not accepted."),
        (
            "weight_kg",
            "1000",
            "Must be greater than or equal to 35.0 and less than or equal to 250.0.",
        ),
        ("bp_treatment", "1", "Not a valid boolean: got an integer."),
        ("bp_treatment", '"true"', "Not a valid boolean: got a string."),
        ("sex", '"Male"', "Must be one of: female, male."),
        ("sex", "0", "Not a valid category: got an integer."),
        ("tobacco_use", '{"never": true}', "Not a valid category: got an object."),
    ],
)
def test_types_are_strict(
    client: Any, records: list[dict[str, Any]], field: str, raw_value: str, reason: str
) -> None:
    placeholder = "__VALUE__"
    body = json.dumps({"instances": [records[0] | {field: placeholder}]})
    body = body.replace(f'"{placeholder}"', raw_value)
    assert record_errors(predict_raw(client, body)) == {"0": {field: [reason]}}


def test_every_failing_record_and_field_is_reported_in_one_response(
    client: Any, records: list[dict[str, Any]]
) -> None:
    first = records[0] | {"age": "42", "sex": "other"}
    third = {k: v for k, v in records[2].items() if k != "hba1c"} | {"favourite_colour": "blue"}
    response = client.post(PREDICT, json={"instances": [first, records[1], third, 7]})
    assert record_errors(response) == {
        "0": {
            "age": ["Not a valid integer: got a string."],
            "sex": ["Must be one of: female, male."],
        },
        "2": {
            "hba1c": ["Missing data for required field."],
            "favourite_colour": ["Unknown field."],
        },
        "3": {"_schema": ["Each record must be a JSON object of feature values."]},
    }
    summary = response.get_json()["error"]
    assert summary.startswith("Invalid input: 3 of 4 records failed validation")
    assert "age" in summary and "favourite_colour" in summary


@pytest.mark.parametrize(
    ("field", "kind"),
    [("race", "protected attribute"), ("religion", "protected attribute"), ("zip", "identifier")],
)
def test_prohibited_fields_are_called_out_by_name(
    client: Any, records: list[dict[str, Any]], field: str, kind: str
) -> None:
    response = client.post(PREDICT, json={"instances": [records[0] | {field: "x"}]})
    errors = record_errors(response)
    assert errors == {
        "0": {
            field: [
                f"'{field}' is {'an' if kind[0] == 'i' else 'a'} {kind}: "
                "it must not be sent and is never used."
            ]
        }
    }
    assert f"prohibited fields must not be sent: '{field}' ({kind})" in response.get_json()["error"]


def test_columnar_errors_are_keyed_by_record_index(
    client: Any, records: list[dict[str, Any]]
) -> None:
    columns = {name: [r[name] for r in records] for name in records[0]}
    columns["age"] = [40, "41", 42.5]
    response = client.post(PREDICT, json={"inputs": columns})
    assert record_errors(response) == {
        "1": {"age": ["Not a valid integer: got a string."]},
        "2": {"age": ["Not a valid integer: got 42.5."]},
    }


def test_column_level_problems_are_reported_under_inputs(
    client: Any, records: list[dict[str, Any]]
) -> None:
    columns = {name: [r[name] for r in records] for name in records[0]}
    del columns["sex"]
    columns["ethnicity"] = ["a", "b", "c"]
    response = client.post(PREDICT, json={"inputs": columns})
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert details["inputs"]["sex"] == ["Missing data for required field."]
    assert "protected attribute" in details["inputs"]["ethnicity"][0]
    assert "'ethnicity' (protected attribute)" in response.get_json()["error"]


def test_columns_of_different_lengths_are_refused(
    client: Any, records: list[dict[str, Any]]
) -> None:
    columns = {name: [r[name] for r in records] for name in records[0]}
    columns["age"] = columns["age"][:2]
    response = client.post(PREDICT, json={"inputs": columns})
    assert response.status_code == 400
    body = response.get_json()
    n = len(records)
    assert body["details"]["inputs"] == {"age": [f"Has 2 values; the other columns have {n}."]}
    assert "fields: age" in body["error"]


def test_rejected_records_are_counted_by_bounded_field_label(
    client: Any, records: list[dict[str, Any]]
) -> None:
    def count(field: str) -> float:
        value = REGISTRY.get_sample_value("underwriting_rejected_records_total", {"field": field})
        return value or 0.0

    before = {f: count(f) for f in ("age", "race", "_unknown")}
    bad = [records[0] | {"age": "x"}, records[1] | {"race": "x", "shoe_size": 9}]
    client.post(PREDICT, json={"instances": bad})
    assert count("age") == before["age"] + 1
    assert count("race") == before["race"] + 1
    assert count("_unknown") == before["_unknown"] + 1  # never the client's field name
    assert (
        REGISTRY.get_sample_value("underwriting_rejected_records_total", {"field": "shoe_size"})
        is None
    )


def test_a_record_of_thousands_of_made_up_keys_is_refused_before_any_check(
    app: Any, records: list[dict[str, Any]]
) -> None:
    """Bounded work: the field count is looked at first, and the answer names a few."""
    from service.validation.validator import EXTRA_FIELDS_ALLOWED

    client = app.test_client()
    flood = records[0] | {f"k{i}": i for i in range(3_000)}
    body = json.dumps({"instances": [records[1], flood]})
    response = predict_raw(client, body)
    errors = record_errors(response)
    assert list(errors) == ["1"]
    limit = 23 + 1 + EXTRA_FIELDS_ALLOWED  # the declared features, requested_coverage, slack
    assert errors["1"]["_unknown"] == [
        f"3,023 fields, at most {limit} accepted; unknown fields include 'k0', 'k1', 'k2', "
        "'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'"
    ]
    assert len(response.get_data()) < 1_000  # not the kilobytes of names it was sent
    columns = {f"k{i}": [1] for i in range(3_000)}
    wide = client.post(PREDICT, json={"inputs": columns})
    assert wide.status_code == 400 and len(wide.get_data()) < 1_000
    assert wide.get_json()["details"]["inputs"]["_unknown"][0].startswith("3,000 columns")


@pytest.mark.parametrize("route", [PREDICT, "/v2/models/underwriting/infer"])
def test_a_body_of_more_keys_than_the_record_limit_allows_is_refused_unparsed(
    app: Any, records: list[dict[str, Any]], route: str
) -> None:
    """Made-up keys beyond what the record limit allows (a million, in production): 413 from a
    count of the body's colons, before any parse."""
    from service.validation.validator import key_limit

    client = app.test_client()
    flood = {f"k{i}": 0 for i in range(10_000)}
    payload = {"instances": [flood]} if route == PREDICT else {"inputs": [], "parameters": flood}
    response = predict_raw(client, json.dumps(payload), route)
    assert response.status_code == 413, response.get_data(as_text=True)
    limit = key_limit(24, TEST_MAX_RECORDS)  # 23 features and requested_coverage, 100 records
    assert response.get_json() == {
        "error": f"Too many JSON object keys: more than {limit:,}, the most a request of the "
        "record limit can hold",
        "details": {"max_keys": limit},
    }
    full = [records[i % len(records)] for i in range(TEST_MAX_RECORDS)]  # the most it may hold
    assert predict_raw(client, json.dumps({"instances": full})).status_code == 200


def test_errors_are_detailed_up_to_a_cap_and_the_rest_counted(
    app: Any, records: list[dict[str, Any]]
) -> None:
    from api_support import app_over

    from service.validation.validator import MAX_REPORTED_FIELDS, MAX_REPORTED_RECORDS

    client = app_over(app, max_records=1_000).test_client()
    # 150 records each with 25 unknown fields (just under the early refusal) and a bad age.
    bad = [records[0] | {"age": 5} | {f"extra_{j}": j for j in range(25)} for _ in range(150)]
    response = predict_raw(client, json.dumps({"instances": bad}))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"].startswith("Invalid input: 150 of 150 records failed validation")
    errors = body["details"]["records"]
    assert len(errors) == MAX_REPORTED_RECORDS and list(errors)[:3] == ["0", "1", "2"]
    assert all(len(fields) == MAX_REPORTED_FIELDS for fields in errors.values())
    assert "age" in errors["0"]  # declared fields come before made-up ones
    assert body["details"]["omitted"] == {
        "records": 150 - MAX_REPORTED_RECORDS,
        "fields": MAX_REPORTED_RECORDS * (26 - MAX_REPORTED_FIELDS),
    }
