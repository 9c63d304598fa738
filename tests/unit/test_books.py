"""Books to try the batch scorer on: the template in examples/ and `python -m training sample`,
each a header of every declared feature and rows the scorer's checks accept."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from paths import REPO

from contract.flags import flag_text
from scoring.checking import check, plan_columns
from service.inference.loader import REQUEST_FIELDS
from service.validation.validator import RequestValidator
from training.__main__ import main
from training.features import FEATURE_NAMES, FEATURES, PROHIBITED

VALIDATOR = RequestValidator.from_declaration(FEATURES, PROHIBITED, optional=REQUEST_FIELDS)
TEMPLATE = REPO / "examples" / "book.csv"
HEADER = ["applicant_id", *FEATURE_NAMES, "requested_coverage"]


def _valid(path: Path) -> np.ndarray:
    """Whether each row of a CSV book passes the scorer's checks, read as the scorer reads it."""
    names = pacsv.read_csv(path).column_names
    text = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )
    batch = pacsv.read_csv(path, convert_options=text).combine_chunks().to_batches()[0]
    plan = plan_columns(batch.schema, FEATURES, REQUEST_FIELDS, VALIDATOR, None, from_text=True)
    assert plan.id_columns == ("applicant_id",)
    return check(batch, plan).valid


def test_the_template_names_every_declared_feature_and_every_row_is_valid() -> None:
    with TEMPLATE.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == HEADER
    assert 3 <= len(rows) - 1 <= 10 and _valid(TEMPLATE).all()
    flags = [HEADER.index(f.name) for f in FEATURES if f.type == "boolean"]
    assert {row[i] for row in rows[1:] for i in flags} == {"TRUE", "FALSE"}  # as spreadsheets
    # Its first applicant is the API's example, so the two examples tell one story.
    applicant = json.loads((REPO / "examples" / "applicant.json").read_text())
    first = dict(zip(HEADER, rows[1], strict=True))
    for name, value in applicant.items():
        if isinstance(value, bool):
            assert first[name] == flag_text(value), name
        elif isinstance(value, str):
            assert first[name] == value, name
        else:
            assert float(first[name]) == value, name


def test_sample_writes_n_valid_applicants_reproducibly_without_tensorflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "book.csv"
    assert main(["sample", "--rows", "500", "--out", str(book), "--seed", "7"]) == 0
    assert capsys.readouterr().out == f"wrote 500 synthetic applicants to {book} (seed 7)\n"
    lines = book.read_text().splitlines()
    assert lines[0] == ",".join(HEADER) and len(lines) == 501
    assert _valid(book).all()
    assert {"TRUE", "FALSE"} <= set(",".join(lines[1:]).split(","))
    again = tmp_path / "again.parquet"
    assert main(["sample", "--rows", "500", "--out", str(again), "--seed", "7"]) == 0
    parquet = pq.read_table(again)
    assert parquet.column_names == HEADER and parquet.num_rows == 500
    assert parquet.column("age").to_pylist() == [int(v) for v in pacsv.read_csv(book)["age"]]
    # The autouse fixture checks the unit tier: no TensorFlow was imported on the way.


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--rows", "5", "--out", "book.txt"], "name a .csv or .parquet file"),
        (["--rows", "0", "--out", "book.csv"], "expected a whole number of at least 1"),
        (["--rows", "5", "--out", "exists.csv"], "exists (pass --overwrite to replace it)"),
        (["--rows", "5", "--out", "no/such/book.csv"], "does not exist"),
    ],
)
def test_sample_refuses_what_it_cannot_write(
    args: list[str], refusal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "exists.csv").write_text("kept\n")
    args = [str(tmp_path / a) if a.startswith(("book", "exists", "no/")) else a for a in args]
    with pytest.raises(SystemExit) as stopped:
        main(["sample", *args])
    assert stopped.value.code == 2
    assert refusal in capsys.readouterr().err
    assert (tmp_path / "exists.csv").read_text() == "kept\n"
