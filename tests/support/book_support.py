"""Helpers for the batch scorer's tests: books of applicants as files, the command, its output."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from paths import REPO
from service_support import applicant_columns

from contract.flags import flag_text

# Rows made invalid in every book (index -> field -> value), one reason each.
INVALID: dict[int, dict[str, Any]] = {
    3: {"age": 200},
    5: {"hba1c": None},
    7: {"sex": "unknown"},
    11: {"age": 42.5},
}


def book_table(rows: int, seed: int, invalid: dict[int, dict[str, Any]] | None = None) -> pa.Table:
    """Generated applicants with an applicant_id and a requested amount, some rows invalid.

    Integer features travel as float64 when a row holds a non-whole or null value in them,
    as pandas writes them.
    """
    columns: dict[str, list[Any]] = {"applicant_id": [f"A{i:06d}" for i in range(rows)]}
    columns |= applicant_columns(rows, seed)
    columns["requested_coverage"] = [None if i % 4 else 250_000.0 * (i % 9) for i in range(rows)]
    for index, values in (INVALID if invalid is None else invalid).items():
        for name, value in values.items():
            columns[name][index] = value
    return pa.table(columns)


def write_book(table: pa.Table, path: Path, row_group_size: int = 1_000) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_spreadsheet_csv(table: pa.Table, path: Path) -> Path:
    """The book as a spreadsheet saves it: flags as TRUE and FALSE, quotes only where needed,
    an empty cell for a null, CRLF line ends."""
    columns = [column.to_pylist() for column in table.columns]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.column_names)
        for row in zip(*columns, strict=True):
            writer.writerow([_as_a_spreadsheet_writes(value) for value in row])
    return path


def _as_a_spreadsheet_writes(value: Any) -> Any:
    if value is None:
        return ""
    return flag_text(value) if isinstance(value, bool) else value


def score(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `python -m scoring` as a user would."""
    command = [sys.executable, "-m", "scoring", *map(str, args), "--no-progress"]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=os.environ | (env or {}),
        check=False,
    )


def read_output(output: Path, part: str = "scores", text: bool = False) -> pa.Table:
    """One output (scores or rejects) of a run, whatever its format or number of part files;
    `text`: a CSV output's every column as text (rejects hold values as they were given)."""
    files = sorted(p for p in (output / part).iterdir() if p.suffix in (".parquet", ".csv"))
    if files and files[0].suffix == ".csv":
        header = pacsv.read_csv(files[0]).column_names
        types = {name: pa.string() for name in header} if text else {}
        kind = ds.CsvFileFormat(convert_options=pacsv.ConvertOptions(column_types=types))
        return ds.dataset([str(p) for p in files], format=kind).to_table()
    return ds.dataset([str(p) for p in files], format="parquet").to_table()


def manifest(output: Path) -> dict[str, Any]:
    return dict(json.loads((output / "_manifest.json").read_text()))


def as_request(row: dict[str, Any]) -> dict[str, Any]:
    """A valid row of a book as a client sends it: no id, no null amount, age an integer."""
    record = {k: v for k, v in row.items() if k != "applicant_id" and v is not None}
    return {k: int(v) if k == "age" else v for k, v in record.items()}


def assert_same_answer(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """One scored row against the service's prediction for the same record."""
    labels = ("standard", "substandard", "decline")
    probabilities = [ours[f"probabilities_{label}"] for label in labels]
    expected = [theirs["probabilities"][label] for label in labels]
    assert probabilities == pytest.approx(expected, abs=1e-6)
    assert ours["risk_class"] == theirs["risk_class"]
    assert ours["max_coverage"] == pytest.approx(theirs["max_coverage"], rel=1e-6)
    decision = theirs["decision"]
    assert ours["outcome"] == decision["outcome"]
    assert ours["offer"] == decision["offer"]
    assert json.loads(ours["reasons"]) == decision["reasons"]
    assert ours["reasons_complete"] == decision["reasons_complete"]
    assert json.loads(ours["rules"]) == decision["rules"]
