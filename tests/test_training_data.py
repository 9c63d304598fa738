"""Training on a user's CSV: strict validation first, then the same pipeline without Bayes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.csv_data import DataValidationError, load_csv
from training.features import CLASS_NAMES, FEATURE_NAMES
from training.synthetic import generate


def write_csv(path: Path, rows: int, seed: int = 3) -> list[dict[str, str]]:
    """Write generated applicants as a user's CSV would hold them; return the rows."""
    sample = generate(rows, seed)
    records = []
    for i in range(rows):
        record = {}
        for name in FEATURE_NAMES:
            value = sample.features[name][i]
            record[name] = str(value).lower() if isinstance(value, np.bool_) else str(value)
        record["risk_class"] = CLASS_NAMES[sample.risk_class[i]]
        record["max_coverage"] = str(sample.max_coverage[i])
        records.append(record)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return records


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
    _corrupt(path, {
        (0, "age"): "42.5", (0, "sex"): "unknown", (3, "annual_income"): "nan",
        (5, "bp_treatment"): "1", (7, "systolic_bp"): "400", (9, "weight_kg"): "",
        (11, "risk_class"): "preferred", (12, "max_coverage"): "-5",
    })  # fmt: skip
    with pytest.raises(DataValidationError) as caught:
        load_csv(path)
    problems = caught.value.problems
    assert len(problems) == 8
    expected = ["line 2, column age: '42.5' is not an integer",
                "line 2, column sex: 'unknown' is not one of female, male",
                "line 5, column annual_income: 'nan' is not a finite number",
                "line 7, column bp_treatment: '1' is not a boolean",
                "line 9, column systolic_bp: 400 is above the maximum 240",
                "line 11, column weight_kg: empty",
                "line 13, column risk_class: 'preferred' is not one of",
                "line 14, column max_coverage: -5.0 is not a non-negative amount"]  # fmt: skip
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


def _train(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "training", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def test_a_bad_file_stops_the_command_before_training(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 150)
    _corrupt(path, {(0, "age"): "old", (4, "diabetes"): "type_3"})
    result = _train("--data", str(path), "--models-dir", str(tmp_path / "models"))
    assert result.returncode == 2
    assert "2 problem(s), nothing was trained" in result.stderr
    assert "line 2, column age" in result.stderr and "line 6, column diabetes" in result.stderr
    assert not (tmp_path / "models").exists()


def test_training_on_a_csv_publishes_without_the_bayes_comparison(tmp_path: Path) -> None:
    path = tmp_path / "applicants.csv"
    write_csv(path, 1500)
    models = tmp_path / "models"
    result = _train("--data", str(path), "--epochs", "2", "--models-dir", str(models))
    assert result.returncode == 0, result.stderr[-2000:]
    risk = json.loads((models / "risk_class" / "1" / "metadata.json").read_text())
    assert risk["training"]["data"]["source"] == "csv"
    assert "log_loss" in risk["metrics"]["test"]
    assert "bayes_log_loss" not in risk["metrics"]["test"]
    report = (models / "risk_class" / "1" / "report.md").read_text()
    assert "How the synthetic applicants are generated" not in report
    assert "| log_loss |" in report and "| n/a |" in report


def test_command_line_errors_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    result = _train("--data", str(tmp_path / "missing.csv"))
    assert result.returncode != 0 and "no such file" in result.stderr
    result = _train("--rows", "0")
    assert result.returncode != 0 and "positive integer" in result.stderr


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
