"""A flag written as text reads the same in training's CSV and in a CSV book (both engines of
the scorer share its reading); the service reads JSON, whose true and false are its own."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from csv_files import write_csv
from paths import REPO

from contract.flags import FLAG_TEXT, NOT_A_FLAG, flag_text, read_flag
from scoring.checking import check, plan_columns, reasons_for
from service.inference.loader import REQUEST_FIELDS
from service.validation.validator import RequestValidator
from training.csv_data import DataValidationError, load_csv
from training.features import FEATURES, PROHIBITED

VALIDATOR = RequestValidator.from_declaration(FEATURES, PROHIBITED, optional=REQUEST_FIELDS)
REFUSED = ("1", "0", "yes", "no", "T", "f", " true", "FALSE ", "tRuE", "Yes", "on", "null")


def test_the_accepted_spellings_are_the_documented_ones() -> None:
    assert FLAG_TEXT == ("TRUE", "true", "True", "FALSE", "false", "False")
    assert [read_flag(t) for t in FLAG_TEXT] == [True, True, True, False, False, False]
    assert [read_flag(t) for t in REFUSED] == [None] * len(REFUSED)
    assert (flag_text(True), flag_text(False)) == ("TRUE", "FALSE")  # what examples/ holds
    docs = (REPO / "docs" / "batch.md").read_text()
    assert "`TRUE`, `true`, `True`" in docs and "`FALSE`, `false`, `False`" in docs


def _training_reads(text: str, tmp_path: Path) -> bool | str:
    """The flag training reads from a file whose first row's bp_treatment is `text`, or the
    problem it reports."""
    path = tmp_path / "applicants.csv"
    write_csv(path, 150)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["bp_treatment"] = text
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    try:
        return bool(load_csv(path).features["bp_treatment"][0])
    except DataValidationError as error:
        (problem,) = error.problems
        return problem


def _scorer_reads(text: str) -> bool | dict[str, list[str]]:
    """The flag the batch scorer reads from a CSV book's row whose bp_treatment is `text`, or
    the row's rejection reasons."""
    applicant = json.loads((REPO / "examples" / "applicant.json").read_text())
    given = {k: v if isinstance(v, str) else json.dumps(v) for k, v in applicant.items()}
    given["bp_treatment"] = text
    batch = pa.RecordBatch.from_pydict({k: pa.array([v], pa.string()) for k, v in given.items()})
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None, from_text=True)
    checked = check(batch, plan)
    if checked.valid.all():
        return bool(checked.columns["bp_treatment"][0])
    result: dict[str, list[str]] = orjson.loads(reasons_for(batch, plan, VALIDATOR)[0])
    return result


@pytest.mark.parametrize("text", [*FLAG_TEXT, *REFUSED])
def test_training_and_the_scorer_read_a_flag_alike(text: str, tmp_path: Path) -> None:
    expected = read_flag(text)
    trained, scored = _training_reads(text, tmp_path), _scorer_reads(text)
    if expected is not None:
        assert trained is expected and scored is expected
        return
    # Refused by both in the same words, saying what to write, never echoing the text given.
    assert trained == f"line 2, column bp_treatment: {NOT_A_FLAG}"
    assert scored == {"bp_treatment": ["Not a boolean; write TRUE or FALSE."]}
