"""The typed route (msgspec) accepts exactly the bodies the strict route accepts, and means them
the same way; it never decides a refusal, it hands those to marshmallow to explain."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
from declared_values import JSON_VALUES, invalid_value, record
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidInput, TooLarge
from service.http.request_body import parse_json
from service.protocols.tf_serving_envelope import FastEnvelope, parse_envelope
from service.validation.records import ValidRecords
from service.validation.validator import RequestValidator
from training.features import FEATURES, PROHIBITED

MAX_RECORDS = 5
DECLARED = [f.to_json() for f in FEATURES]
VALIDATOR = RequestValidator.from_declaration(FEATURES, PROHIBITED)
assert VALIDATOR.typed is not None
TYPED = FastEnvelope(VALIDATOR.typed, MAX_RECORDS)


def strict(body: bytes) -> ValidRecords | None:
    """What the strict route accepts (the records it validated), or None if it refuses."""
    try:
        envelope = parse_envelope(parse_json(body))
        if "instances" in envelope:
            return VALIDATOR.rows_valid(envelope["instances"], MAX_RECORDS)
        return VALIDATOR.columns_valid(envelope["inputs"], MAX_RECORDS)
    except (InvalidInput, TooLarge):
        return None


def as_dicts(found: ValidRecords) -> list[dict[str, Any]] | dict[str, list[Any]]:
    names = [f.name for f in FEATURES]
    if found.rows is not None:
        return [{n: r[n] for n in names} for r in found.rows]
    assert found.columns is not None
    return {n: list(found.columns[n]) for n in names}


def assert_same_route(body: bytes) -> None:
    expected, decoded = strict(body), TYPED.decode(body)
    found = None if decoded is None else decoded[0]
    if found is not None:
        assert expected is not None, "the typed route accepted what the strict route refuses"
        assert expected is not None and found.size == expected.size
        assert as_dicts(found) == as_dicts(expected)  # numbers compare equal, int or float
    elif expected is not None:
        pytest.fail("a valid body left the typed route")


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(record(DECLARED), min_size=1, max_size=MAX_RECORDS + 1))
def test_valid_rows_take_the_typed_route(rows: list[dict[str, Any]]) -> None:
    assert_same_route(json.dumps({"instances": rows}).encode())


@settings(max_examples=300, deadline=None)
@given(data=st.data(), value=JSON_VALUES)
def test_any_wrong_value_leaves_the_typed_route(data: st.DataObject, value: Any) -> None:
    row = data.draw(record(DECLARED))
    feature = data.draw(st.sampled_from(DECLARED))
    row[feature["name"]] = data.draw(st.one_of(st.just(value), invalid_value(feature)))
    assert_same_route(json.dumps({"instances": [row]}).encode())


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(1, MAX_RECORDS + 1))
def test_columns_take_the_typed_route_only_when_valid(data: st.DataObject, size: int) -> None:
    rows = [data.draw(record(DECLARED)) for _ in range(size)]
    columns = {f["name"]: [r[f["name"]] for r in rows] for f in DECLARED}
    if data.draw(st.booleans()):
        feature = data.draw(st.sampled_from(DECLARED))
        columns[feature["name"]][-1] = data.draw(invalid_value(feature))
    if data.draw(st.booleans()):
        columns[data.draw(st.sampled_from(DECLARED))["name"]].append(rows[0][DECLARED[0]["name"]])
    assert_same_route(json.dumps({"inputs": columns}).encode())


class Whole(int):
    """An int subclass (as an IntEnum is): not a plain integer to the schemas."""


# The same validator with no fast check: marshmallow, the authority, decides every request.
AUTHORITY = dataclasses.replace(VALIDATOR, accepts_columns=None, accepts_row=None, typed=None)


def validated(validator: RequestValidator, columns: dict[str, Any]) -> Any:
    try:
        found = validator.columns_valid(columns, MAX_RECORDS)
    except (InvalidInput, TooLarge) as refused:
        return type(refused).__name__, refused.details
    return {name: list(found.column(name)) for name in NAMES}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(1, MAX_RECORDS))
def test_python_columns_checked_in_c_are_exactly_the_valid_ones(
    data: st.DataObject, size: int
) -> None:
    """A wire that builds Python columns (gRPC's tensors, V2's inputs) is checked in C; what
    that check passes is what marshmallow passes, values unchanged; it refuses nothing valid."""
    rows = [data.draw(record(DECLARED)) for _ in range(size)]
    columns = {name: [row[name] for row in rows] for name in NAMES}
    if data.draw(st.booleans()):
        feature = data.draw(st.sampled_from(DECLARED))
        column = columns[feature["name"]]
        at = data.draw(st.integers(0, size - 1))
        odd = st.sampled_from([math.nan, math.inf, -math.inf, True, 1.5, 2**70])
        # A subclass of the right type holding a valid value: msgspec takes it, the schemas not.
        kind = {"category": np.str_, "integer": Whole, "number": Whole}.get(feature["type"])
        subclassed = st.just(kind(column[at])) if kind and type(column[at]) is not bool else odd
        column[at] = data.draw(invalid_value(feature) | odd | subclassed)
    assert validated(VALIDATOR, columns) == validated(AUTHORITY, columns)
    assert VALIDATOR.typed is not None
    valid = not isinstance(validated(AUTHORITY, columns), tuple)
    assert VALIDATOR.typed.accepts_columns(columns, size, MAX_RECORDS) == valid


NAMES = [f["name"] for f in DECLARED]
NUMBERS = frozenset(f["name"] for f in DECLARED if f["type"] == "number")
OPTIONAL = "requested_coverage"


def reference_applicant(row: dict[str, Any]) -> dict[str, Any]:
    """One record as fingerprints have always read it (the service's former per-record code,
    for rows): the features and the optional field when given, declared numbers as floats."""
    numbers = NUMBERS | {OPTIONAL}  # the service declares the requested amount a number
    record = {name: row[name] for name in NAMES}
    if (value := row.get(OPTIONAL)) is not None:
        record[OPTIONAL] = value
    for name in numbers:
        if name in record:
            record[name] = float(record[name])
    return record


def assert_applicants(found: ValidRecords | None, rows: list[dict[str, Any]], route: str) -> None:
    assert found is not None, route
    applicants = found.applicants(NAMES, NUMBERS | {OPTIONAL}, OPTIONAL)
    expected = [reference_applicant(row) for row in rows]
    assert applicants == expected, route
    for applicant, reference in zip(applicants, expected, strict=True):  # the types too
        assert [type(v) for v in applicant.values()] == [type(v) for v in reference.values()]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(1, MAX_RECORDS))
def test_every_route_gives_each_applicant_the_same_record(data: st.DataObject, size: int) -> None:
    rows = [data.draw(record(DECLARED)) for _ in range(size)]
    columns = {name: [row[name] for row in rows] for name in NAMES}
    rows_body, columns_body = json.dumps({"instances": rows}), json.dumps({"inputs": columns})
    assert_applicants(strict(rows_body.encode()), rows, "strict rows")
    assert_applicants(strict(columns_body.encode()), rows, "strict columns")
    for route, body in [("typed rows", rows_body), ("typed columns", columns_body)]:
        decoded = TYPED.decode(body.encode())
        assert_applicants(None if decoded is None else decoded[0], rows, route)
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    assert_applicants(ValidRecords.of_columns(arrays, size), rows, "arrays")
    # The optional field, in some rows only or as a column of every record's.
    for row in rows[::2]:
        row[OPTIONAL] = 250_000  # an integer amount: written as a float, as any number
    for row in rows[1::2]:
        row[OPTIONAL] = None
    assert_applicants(ValidRecords.of_rows(rows), rows, "rows with an optional field")
    for row in rows:
        row[OPTIONAL] = 125_000.0
    given = columns | {OPTIONAL: [row[OPTIONAL] for row in rows]}
    assert_applicants(ValidRecords.of_columns(given, size), rows, "columns with an optional field")
    assert len(ValidRecords.of_columns(given, size).applicants((), frozenset(), "x")) == size


def _valid_body() -> tuple[dict[str, Any], bytes]:
    row = {f["name"]: f.get("minimum", (f.get("categories") or [False])[0]) for f in DECLARED}
    return row, json.dumps({"instances": [row]}).encode()


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace(b'"age": ', b'"age": 40, "age": ', 1),  # a repeated record key
        lambda b: b.replace(b'{"instances"', b'{"instances": [], "instances"', 1),
        lambda b: b.replace(b'"instances"', b'"signature_name": "x", "instances"', 1),
        lambda b: b.replace(b'"age": 18', b'"age": 18.0', 1),
        lambda b: b.replace(b'"age": 18', b'"age": true', 1),
        lambda b: b.replace(b'"age": 18', b'"age": null', 1),
        lambda b: b.replace(b'"age": 18', b'"age": NaN', 1),
        lambda b: b.replace(b'"age": 18, ', b"", 1),
        lambda b: b.replace(b'"age": 18', b'"age": 18, "race": "x"', 1),
        lambda b: b.replace(b'"sex": "female"', b'"sex": "Female"', 1),
        lambda b: b.replace(b"]}", b'], "inputs": {}}', 1),
    ],
)
def test_bodies_the_strict_route_refuses_never_take_the_typed_route(edit: Any) -> None:
    _, body = _valid_body()
    assert TYPED.decode(body) is not None
    assert TYPED.decode(edit(body)) is None
    assert strict(edit(body)) is None


def test_an_oddly_spaced_valid_body_is_still_accepted_by_the_strict_route() -> None:
    _, body = _valid_body()
    spaced = body.replace(b'": ', b'" : ')
    assert TYPED.decode(spaced) is None  # the key count cannot be trusted: the strict route
    assert strict(spaced) is not None  # decides, and accepts it
