"""Training on a user's CSV: strict validation first, then the same pipeline without Bayes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from csv_files import run_training, write_csv

from training.csv_data import (
    MAX_KEPT,
    MAX_REPORTED_GROUPS,
    DataValidationError,
    Problem,
    Problems,
    load_csv,
    report,
)
from training.features import FEATURE_NAMES
from training.synthetic import generate


def test_a_valid_file_loads_exactly(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 150)
    data = load_csv(path)
    sample = generate(150, 3)
    assert data.source == "csv" and not data.has_truth
    np.testing.assert_array_equal(data.risk_class, sample.risk_class)
    for name in FEATURE_NAMES:
        np.testing.assert_array_equal(data.features[name], sample.features[name])


def _corrupt(path: Path, edits: dict[tuple[int, str], str]) -> None:
    """Replace cells given by (data row index, column)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for (row, column), text in edits.items():
        rows[row][column] = text
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_every_bad_cell_is_reported_with_line_column_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 150)
    _corrupt(
        path,
        {
            (0, "age"): "42.5",
            (0, "sex"): "unknown",
            (3, "annual_income"): "nan",
            (5, "bp_treatment"): "1",
            (7, "systolic_bp"): "400",
            (9, "weight_kg"): "",
            (11, "risk_class"): "preferred",
            (12, "max_coverage"): "-5",
        },
    )
    with pytest.raises(DataValidationError) as caught:
        load_csv(path)
    problems = caught.value.problems
    assert len(problems) == 8
    expected = [
        "line 2, column age: '42.5' is not an integer",
        "line 2, column sex: 'unknown' is not one of female, male",
        "line 5, column annual_income: 'nan' is not a finite number",
        "line 7, column bp_treatment: not a boolean; write TRUE or FALSE",
        "line 9, column systolic_bp: 400 is above the maximum 240",
        "line 11, column weight_kg: empty",
        "line 13, column risk_class: 'preferred' is not one of",
        "line 14, column max_coverage: -5.0 is not a non-negative amount",
    ]
    for prefix, problem in zip(expected, problems, strict=True):
        assert problem.startswith(prefix), problem


def test_header_problems_name_protected_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 5)
    text = path.read_text().replace("tobacco_use", "race", 1)
    path.write_text(text)
    with pytest.raises(DataValidationError) as caught:
        load_csv(path)
    assert "line 1, column tobacco_use: missing" in caught.value.problems
    assert "line 1, column race: protected attribute, never a feature" in caught.value.problems


def test_a_fairness_column_is_read_for_the_report_only(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    written = write_csv(path, 120, group_column="race")
    data = load_csv(path, "race")
    assert data.group_column == "race" and "race" not in data.features
    assert data.groups is not None and data.groups.tolist() == [r["race"] for r in written]
    assert data.face_amount is not None and data.face_amount[0] == float(written[0]["face_amount"])
    # Without naming it, the protected column is refused as ever.
    with pytest.raises(DataValidationError) as caught:
        load_csv(path)
    assert "line 1, column race: protected attribute, never a feature" in caught.value.problems
    # A named column the file lacks, or a feature, is refused by name.
    for column, problem in (
        ("ethnicity", "missing"),
        ("age", "is a feature or label, not a fairness column"),
    ):
        with pytest.raises(DataValidationError) as caught:
            load_csv(path, column)
        assert f"line 1, column {column}: {problem}" in caught.value.problems


def test_a_bad_file_stops_the_command_before_training(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 150)
    _corrupt(path, {(0, "age"): "old", (4, "diabetes"): "type_3"})
    result = run_training("--data", str(path), "--models-dir", str(tmp_path / "models"))
    assert result.returncode == 2
    assert "2 problem(s), nothing was trained" in result.stderr
    assert "column age, 1 row: 'old' is not an integer (line 2)" in result.stderr
    assert "column diabetes, 1 row: 'type_3' is not one of" in result.stderr
    assert not (tmp_path / "models").exists()
    # The file is checked before TensorFlow starts: none of its start-up noise, no delay.
    assert "cuda" not in result.stderr.lower() and "tensorflow" not in result.stderr.lower()


def test_thousands_of_bad_rows_are_reported_grouped_and_short(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 3000)
    bad = {(i, "age"): "old" for i in range(0, 3000, 2)}
    bad |= {(i, "sex"): "F" for i in range(1, 3000, 3)}
    bad |= {(i, name): "?" for i, name in enumerate(FEATURE_NAMES[2:])}  # one per column
    _corrupt(path, bad)
    with pytest.raises(DataValidationError) as caught:
        load_csv(path)
    assert caught.value.total == len(bad)
    assert len(caught.value.problems) == MAX_KEPT  # the rest are counted, not kept
    message = str(caught.value).splitlines()
    assert message[0].endswith(f"{len(bad):,} problem(s), nothing was trained:")
    assert message[-1] == f"{len(bad):,} problem(s) in total."
    assert len(message) <= MAX_REPORTED_GROUPS + 3
    assert (
        "  column age, 1,500 rows: 'old' is not an integer (line 2, 4, 6, 8, 10 and 1,495 "
        "more)" in message
    )
    assert any(line.startswith("  column sex, 1,000 rows: 'F' is not one of") for line in message)


def test_more_kinds_of_problem_than_the_cap_are_counted_not_listed(tmp_path: Path) -> None:
    found = Problems()
    for line in range(2, 80):
        found.add(Problem(line, "age", f"kind {line}", "'x'"))
    message = report(tmp_path / "a.csv", found).splitlines()
    assert len(message) == MAX_REPORTED_GROUPS + 3
    assert message[-2] == f"  ... and {78 - MAX_REPORTED_GROUPS} more kinds of problem"


def test_command_line_errors_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    result = run_training("--data", str(tmp_path / "missing.csv"))
    assert result.returncode != 0 and "no such file" in result.stderr
    result = run_training("--rows", "0")
    assert result.returncode != 0 and "positive integer" in result.stderr
    result = run_training("--fairness-column", "race")
    assert result.returncode != 0 and "--fairness-column needs --data" in result.stderr
    result = run_training("--validation-date", "30/11/2026")
    assert result.returncode != 0 and "must be a date as YYYY-MM-DD" in result.stderr


def test_too_few_rows_or_a_missing_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    records = write_csv(path, 150)
    kept = [r for r in records if r["risk_class"] != "substandard"][:60]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    with pytest.raises(DataValidationError) as caught:
        load_csv(path)
    assert caught.value.problems == [
        "the file has 60 data rows; training needs at least 100",
        "column risk_class: no row is substandard; every class must appear",
    ]


def test_booleans_are_read_as_spreadsheets_and_pandas_write_them_and_nothing_else(
    tmp_path: Path,
) -> None:
    path = tmp_path / "applicants.csv"
    records = write_csv(path, 150)
    _corrupt(
        path,
        {
            (0, "bp_treatment"): "True",
            (1, "bp_treatment"): "FALSE",
            (2, "hazardous_avocation"): "TRUE",
        },
    )
    data = load_csv(path)
    assert data.features["bp_treatment"][:2].tolist() == [True, False]
    assert bool(data.features["hazardous_avocation"][2]) is True
    assert records  # the rest as written
    for text in ("1", "0", "yes", "no", "T", "t", " true", "tRuE"):
        _corrupt(path, {(0, "bp_treatment"): text})
        with pytest.raises(DataValidationError) as caught:
            load_csv(path)
        # What to write, and never the text given (an applicant's data stays out of messages).
        assert caught.value.problems == [
            "line 2, column bp_treatment: not a boolean; write TRUE or FALSE"
        ]
