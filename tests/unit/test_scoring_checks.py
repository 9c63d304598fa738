"""The batch scorer's row checks refuse exactly the rows the service's schema refuses, for the
reasons the service gives; the input's columns are matched to the declaration or the job is
refused, naming every problem (a protected attribute by name)."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from paths import REPO

from contract.features import Feature
from scoring.checking import check, plan_columns, reasons_for
from scoring.errors import JobRefused
from service.inference.loader import REQUEST_FIELDS
from service.validation.validator import RequestValidator
from training.features import FEATURES, PROHIBITED

VALIDATOR = RequestValidator.from_declaration(FEATURES, PROHIBITED, optional=REQUEST_FIELDS)
BY_NAME = {f.name: f for f in (*FEATURES, *REQUEST_FIELDS)}
INT64 = 2**63 - 1


def _floats_in(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=low, max_value=high, allow_nan=False)


Column = tuple[pa.DataType, list[Any], list[bool]]


def _column(feature: Feature, rows: int) -> st.SearchStrategy[Column]:
    """A column of one Arrow type the feature accepts: values, and whether each is valid."""
    low = feature.minimum if feature.minimum is not None else -1e9
    high = feature.maximum if feature.maximum is not None else 1e9
    kinds: dict[str, list[tuple[pa.DataType, st.SearchStrategy[Any], st.SearchStrategy[Any]]]]
    out_of_range_int = st.integers(-INT64, math.ceil(low) - 1) | st.integers(
        math.floor(high) + 1, INT64
    )
    out_of_range_float = st.floats(max_value=low, exclude_max=True, allow_infinity=False) | (
        st.floats(min_value=high, exclude_min=True, allow_infinity=False)
    )
    non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
    whole = st.integers(math.ceil(low), math.floor(high))
    kinds = {
        "integer": [
            (pa.int64(), whole, out_of_range_int),
            (
                pa.float64(),
                whole.map(float),
                out_of_range_float
                | non_finite
                | _floats_in(low, high).filter(lambda v: not v.is_integer()),
            ),
        ],
        "number": [
            (pa.float64(), _floats_in(low, high), out_of_range_float | non_finite),
            (pa.int64(), whole, out_of_range_int),
        ],
        "boolean": [(pa.bool_(), st.booleans(), st.nothing())],
        "category": [
            (
                pa.string(),
                st.sampled_from(feature.categories or ("",)),
                st.text(max_size=6).filter(lambda v: v not in (feature.categories or ())),
            ),
        ],
    }

    @st.composite
    def build(draw: Any) -> Column:
        kind, good, bad = draw(st.sampled_from(kinds[feature.type]))
        values, valid = [], []
        for _ in range(rows):
            choice = draw(st.sampled_from(["good"] * 6 + ["bad", "null"]))
            if choice == "bad" and bad is not st.nothing():
                values.append(draw(bad))
                valid.append(False)
            elif choice == "null":
                values.append(None)
                valid.append(feature in REQUEST_FIELDS)  # a null amount asks for none
            else:
                values.append(draw(good))
                valid.append(True)
        return kind, values, valid

    return build()


@st.composite
def books(draw: Any) -> tuple[pa.RecordBatch, dict[int, set[str]]]:
    """A batch of rows with some invalid values, and the fields each invalid row fails on."""
    rows = draw(st.integers(1, 12))
    arrays: list[pa.Array] = []
    names: list[str] = []
    failing: dict[int, set[str]] = {}
    for feature in (*FEATURES, *REQUEST_FIELDS):
        kind, values, valid = draw(_column(feature, rows))
        arrays.append(pa.array(values, type=kind))
        names.append(feature.name)
        for i, ok in enumerate(valid):
            if not ok:
                failing.setdefault(i, set()).add(feature.name)
    return pa.RecordBatch.from_arrays(arrays, names=names), failing


def service_verdict(record: dict[str, Any]) -> dict[str, list[str]] | None:
    """What the service's own schema says of one record: None if valid, else its messages."""
    try:
        VALIDATOR.rows.load([record])
    except ValidationError as exc:
        messages: Any = exc.messages
        return dict(messages[0])
    return None


def as_request(row: dict[str, Any]) -> dict[str, Any]:
    """The record a client would send: whole numbers of integer features as integers, no null
    amount (a record asking for none leaves it out)."""
    out = {}
    for name, value in row.items():
        feature = BY_NAME[name]
        if feature.type == "integer" and type(value) is float and value.is_integer():
            value = int(value)
        if value is None and feature in REQUEST_FIELDS:
            continue
        out[name] = value
    return out


@settings(max_examples=150, deadline=None)
@given(book=books())
def test_the_batch_check_refuses_exactly_what_the_service_refuses(
    book: tuple[pa.RecordBatch, dict[int, set[str]]],
) -> None:
    batch, failing = book
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None)
    checked = check(batch, plan)
    rows = batch.to_pylist()
    verdicts = [service_verdict(as_request(row)) for row in rows]
    assert checked.valid.tolist() == [v is None for v in verdicts]
    assert {i for i, v in enumerate(verdicts) if v is not None} == set(failing)
    invalid = [i for i, v in enumerate(verdicts) if v is not None]
    if invalid:
        rejected = batch.filter(pa.array(~checked.valid))
        reasons = [orjson.loads(text) for text in reasons_for(rejected, plan, VALIDATOR)]
        assert reasons == [verdicts[i] for i in invalid]  # the service's very words
        assert [set(r) for r in reasons] == [failing[i] for i in invalid]
    # The valid rows' values reach the model as the service types them.
    for name, values in checked.columns.items():
        expected = [
            as_request(row)[name] for row, ok in zip(rows, checked.valid, strict=True) if ok
        ]
        assert values.tolist() == expected


def example_batch(**extra: pa.Array) -> pa.RecordBatch:
    """The documented example applicant, one row, plus `extra` columns."""
    applicant = json.loads((REPO / "examples" / "applicant.json").read_text())
    return pa.RecordBatch.from_pydict({k: [v] for k, v in applicant.items()} | extra)


def refusal(batch: pa.RecordBatch, id_columns: tuple[str, ...] | None = None) -> str:
    with pytest.raises(JobRefused) as refused:
        plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, id_columns)
    return str(refused.value)


def test_a_valid_example_row_is_valid() -> None:
    batch = example_batch()
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None)
    assert check(batch, plan).valid.tolist() == [True]


def test_a_protected_attribute_refuses_the_job_by_name() -> None:
    text = refusal(example_batch(race=pa.array(["x"])))
    assert "'race' is a protected attribute" in text


def test_an_identifier_is_carried_through_by_default_and_never_reaches_the_model() -> None:
    batch = example_batch(applicant_id=pa.array(["A1"]), policy_number=pa.array([7]))
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None)
    assert plan.id_columns == ("applicant_id", "policy_number")
    assert {f.name for f in plan.checked}.isdisjoint(plan.id_columns)


def test_unknown_and_unnamed_columns_are_refused_with_the_way_to_keep_them() -> None:
    batch = example_batch(notes=pa.array(["x"]), applicant_id=pa.array(["A1"]))
    text = refusal(batch, id_columns=("notes",))
    assert "'applicant_id' is an identifier: carry it through with --id-columns" in text
    assert "notes" not in text
    assert "column 'notes' is not a feature of the model" in refusal(batch)


def test_every_column_problem_is_named_at_once() -> None:
    batch = (
        example_batch()
        .drop_columns(["age", "sex"])
        .append_column("bp_treatment_copy", pa.array([1]))
    )
    batch = batch.set_column(
        batch.schema.get_field_index("bp_treatment"), "bp_treatment", pa.array([1])
    )
    text = refusal(batch, id_columns=("hba1c", "missing_id"))
    assert "missing feature columns (Missing data for required field.): age, sex" in text
    assert "column 'bp_treatment' is int64; the feature is a boolean" in text
    assert "id column 'hba1c' is a feature of the model" in text
    assert "id column 'missing_id' is not in the input" in text
    assert "column 'bp_treatment_copy' is not a feature" in text


def test_a_dictionary_encoded_category_column_is_checked_as_text() -> None:
    batch = example_batch()
    index = batch.schema.get_field_index("tobacco_use")
    encoded = pa.array(["never", "sometimes"]).dictionary_encode()
    rows = pa.Table.from_batches([batch, batch]).combine_chunks().to_batches()[0]
    rows = rows.set_column(index, "tobacco_use", encoded)
    plan = plan_columns(rows.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None)
    assert check(rows, plan).valid.tolist() == [True, False]
    (reason,) = reasons_for(rows.filter(pa.array([False, True])), plan, VALIDATOR)
    assert orjson.loads(reason) == {
        "tobacco_use": ["Must be one of: never, former_over_5y, former_1_5y, current."]
    }


def test_personal_identifiers_are_carried_only_when_named() -> None:
    batch = example_batch(
        applicant_id=pa.array(["A1"]),
        ssn=pa.array(["123-45-6789"]),
        social_security_number=pa.array(["123-45-6789"]),
    )
    text = refusal(batch)
    assert "column 'ssn' is an identifier: carry it through with --id-columns" in text
    assert "column 'social_security_number' is an identifier" in text
    assert "named more than once: applicant_id" in refusal(batch, ("applicant_id",) * 2)
    batch = batch.drop_columns(["social_security_number"])
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, ("applicant_id", "ssn"))
    assert plan.id_columns == ("applicant_id", "ssn")


def test_columns_the_outputs_cannot_hold_are_refused() -> None:
    batch = example_batch(
        outcome=pa.array(["x"]), tags=pa.array([[1, 2]]), notes=pa.array(["x"], pa.string_view())
    )
    with pytest.raises(JobRefused) as refused:
        plan_columns(
            batch.schema,
            FEATURES,
            REQUEST_FIELDS,
            VALIDATOR,
            ("outcome", "tags", "notes"),
            reserved=frozenset({"outcome"}),
            csv_options=("--rejects-format",),
        )
    text = str(refused.value)
    assert "id column 'outcome' has the name of an output column" in text
    assert (
        "id column 'tags' is list<item: int64>: CSV output holds flat values only "
        "(use --rejects-format parquet)"
    ) in text
    assert "column 'notes' is string_view: write it as string or binary" in text
    repeated = pa.RecordBatch.from_arrays([pa.array([1]), pa.array([2])], names=["age", "age"])
    assert "columns appear more than once: age" in refusal(repeated)


@pytest.mark.parametrize("kind", [pa.float32(), pa.decimal128(10, 1)])
def test_single_precision_and_decimal_values_compare_as_written(kind: pa.DataType) -> None:
    """132.9 stored as float32 or decimal is 132.9 to the checks and the rules, as the service
    reads it (a direct cast gives 132.89999389648438, or 206.20000000000002 for 206.2)."""
    batch = example_batch()
    index = batch.schema.get_field_index("height_cm")
    batch = batch.set_column(index, "height_cm", pa.array([132.9], pa.float64()).cast(kind))
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None)
    assert check(batch, plan).columns["height_cm"].tolist() == [132.9]


def text_batch(**values: str | None) -> pa.RecordBatch:
    """The example applicant as a CSV row reads: every column text, some values replaced."""
    applicant = json.loads((REPO / "examples" / "applicant.json").read_text())
    text: dict[str, str | None] = {
        k: json.dumps(v) if not isinstance(v, str) else v for k, v in applicant.items()
    }
    text |= values
    return pa.RecordBatch.from_pydict({k: pa.array([v], pa.string()) for k, v in text.items()})


@pytest.mark.parametrize(
    ("values", "reasons"),
    [
        ({}, None),
        ({"age": "45.0", "requested_coverage": ""}, None),  # a whole number; no amount asked
        ({"age": "abc"}, {"age": ["Not a valid integer: got a string."]}),
        ({"age": "45.5"}, {"age": ["Not a valid integer: got 45.5."]}),
        ({"bp_treatment": "TRUE", "hazardous_avocation": "False"}, None),  # spreadsheet, pandas
        ({"bp_treatment": "yes"}, {"bp_treatment": ["Not a boolean; write TRUE or FALSE."]}),
        ({"bp_treatment": "1"}, {"bp_treatment": ["Not a boolean; write TRUE or FALSE."]}),
        ({"weight_kg": "NaN"}, {"weight_kg": ["Not a valid number: got a string."]}),
        ({"sex": ""}, {"sex": ["Field may not be null."]}),
        (
            {"sex": None, "hba1c": "1e9"},
            {
                "sex": ["Field may not be null."],
                "hba1c": ["Must be greater than or equal to 3.5 and less than or equal to 15.0."],
            },
        ),
    ],
)
def test_csv_text_is_read_as_json_reads_a_value(
    values: dict[str, str | None], reasons: dict[str, list[str]] | None
) -> None:
    batch = text_batch(**values)
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None, from_text=True)
    checked = check(batch, plan)
    assert checked.valid.tolist() == [reasons is None]
    if reasons is not None:
        assert [orjson.loads(r) for r in reasons_for(batch, plan, VALIDATOR)] == [reasons]
    else:
        assert checked.columns["age"].tolist() == [45]
