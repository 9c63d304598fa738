"""The batch scorer: every row scored as the service scores it or rejected with the service's
reasons, counts that add up, a manifest to trust the output by, and an output that appears
complete or not at all."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from book_support import (
    INVALID,
    as_request,
    assert_same_answer,
    book_table,
    manifest,
    read_output,
    score,
    write_book,
    write_spreadsheet_csv,
)
from paths import REPO
from service_support import publish_version

from contract.flags import flag_text

ROWS = 400


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_book(
        book_table(ROWS, seed=21),
        tmp_path_factory.mktemp("book") / "book.parquet",
        row_group_size=150,
    )


@pytest.fixture(scope="module")
def scored(book: Path, service_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("scored") / "out"
    run = score(book, output, "--models-dir", service_models_dir, "--batch-rows", "128")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"scored {ROWS - len(INVALID)} of {ROWS} rows; rejected {len(INVALID)}" in run.stdout
    return output


def test_every_row_is_scored_or_rejected_with_the_services_reasons(scored: Path) -> None:
    scores, rejects = read_output(scored), read_output(scored, "rejects")
    ids = [f"A{i:06d}" for i in range(ROWS)]
    rejected = [ids[i] for i in sorted(INVALID)]
    assert scores.column("applicant_id").to_pylist() == [i for i in ids if i not in rejected]
    assert rejects.column("applicant_id").to_pylist() == rejected
    reasons = [json.loads(r) for r in rejects.column("rejected_reasons").to_pylist()]
    assert reasons == [
        {"age": ["Must be greater than or equal to 18 and less than or equal to 85."]},
        {"hba1c": ["Field may not be null."]},
        {"sex": ["Must be one of: female, male."]},
        {"age": ["Not a valid integer: got 42.5."]},
    ]
    # Rejects carry the row as given, so it can be corrected and sent again.
    assert rejects.column("age").to_pylist()[0] == 200
    counts = manifest(scored)["counts"]
    assert counts["input"] == counts["scored"] + counts["rejected"] == ROWS
    assert counts["rejected_by_field"] == {"age": 2, "hba1c": 1, "sex": 1}
    assert sum(counts["outcomes"].values()) == counts["scored"]
    outcomes = pc.value_counts(scores.column("outcome")).to_pylist()
    assert {o["values"]: o["counts"] for o in outcomes} == counts["outcomes"]


def test_the_manifest_names_the_models_input_and_options(
    scored: Path, book: Path, service_models_dir: Path
) -> None:
    document = manifest(scored)
    assert document["status"] == "complete"
    for name in ("risk_class", "max_coverage"):
        metadata = json.loads((service_models_dir / name / "1" / "metadata.json").read_text())
        expected = {"version": 1, "metadata_sha256": metadata["metadata_sha256"]}
        assert document["models"][name] == expected
    policy = json.loads((service_models_dir / "underwriting_policy/1/policy.json").read_text())
    assert document["models"]["underwriting_policy"]["policy_sha256"] == policy["policy_sha256"]
    (listed,) = document["input"]["fingerprint"]["files"]
    assert listed["sha256"] == hashlib.sha256(book.read_bytes()).hexdigest()
    assert document["options"]["explain"] is True and document["options"]["batch_rows"] == 128
    assert document["output"]["id_columns"] == ["applicant_id"]
    assert document["timings"]["total_seconds"] > 0
    scores = read_output(scored)
    for name in ("risk_class", "max_coverage", "underwriting_policy"):
        assert set(scores.column(f"{name}_version").to_pylist()) == {1}


def test_each_row_matches_the_services_answer(scored: Path, book: Path, client: Any) -> None:
    """The HTTP app's predictions and decisions, 100 records a request, against the book's."""
    table = pq.read_table(book)
    rows = [r for i, r in enumerate(table.to_pylist()) if i not in INVALID]
    scores = read_output(scored).to_pylist()
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        records = [as_request(r) for r in chunk]
        response = client.post("/v1/models/underwriting:predict", json={"instances": records})
        assert response.status_code == 200, response.get_data(as_text=True)
        for ours, theirs in zip(
            scores[start : start + 100], response.get_json()["predictions"], strict=True
        ):
            assert_same_answer(ours, theirs)


def test_batch_boundaries_do_not_change_a_score(
    scored: Path, book: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole"
    run = score(book, whole, "--models-dir", service_models_dir, "--batch-rows", "100000")
    assert run.returncode == 0, run.stderr
    assert read_output(whole).equals(read_output(scored))
    assert read_output(whole, "rejects").equals(read_output(scored, "rejects"))


def test_csv_in_and_out_scores_like_parquet(
    scored: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    """CSV is text: a word where a number belongs rejects its row with the service's reason."""
    table = book_table(ROWS, seed=21)
    table = pa.concat_tables([table, table.slice(0, 1)])  # and a row whose age is a word
    ages = table.column("age").cast(pa.string()).to_pylist()
    ages[ROWS] = "forty"
    table = table.set_column(table.schema.get_field_index("age"), "age", pa.array(ages))
    book = write_book(table, tmp_path / "book.csv")
    output = tmp_path / "csv-out"
    run = score(book, output, "--models-dir", service_models_dir, "--format", "csv")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (output / "scores").iterdir()) == ["part-00000.csv"]
    ours, parquet = read_output(output), read_output(scored)
    assert ours.column("applicant_id").to_pylist() == parquet.column("applicant_id").to_pylist()
    assert ours.column("outcome").equals(parquet.column("outcome"))
    assert ours.column("reasons").equals(parquet.column("reasons"))
    rejects = read_output(output, "rejects")
    assert rejects.column("age").to_pylist()[-1] == "forty"  # the row as it was given
    last = json.loads(rejects.column("rejected_reasons").to_pylist()[-1])
    assert last == {"age": ["Not a valid integer: got a string."]}
    counts = manifest(output)["counts"]
    assert counts["rejected"] == manifest(scored)["counts"]["rejected"] + 1


def test_a_spreadsheet_book_scores_and_its_rejects_come_back_as_csv(
    scored: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    """A book saved by a spreadsheet (flags TRUE and FALSE) scores as the Parquet book does; a
    flag written otherwise rejects its row saying what to write; the rejects are CSV, as the
    book was (ready to correct in the same tool), unless --rejects-format says otherwise."""
    table = book_table(ROWS, seed=21)
    table = pa.concat_tables([table, table.slice(0, 1)])  # and a row whose flag is a word
    flags = [flag_text(value) for value in table.column("bp_treatment").to_pylist()]
    flags[ROWS] = "yes"
    table = table.set_column(
        table.schema.get_field_index("bp_treatment"), "bp_treatment", pa.array(flags, pa.string())
    )
    book = write_spreadsheet_csv(table, tmp_path / "book.csv")
    assert "TRUE" in book.read_text() and "FALSE" in book.read_text()
    output = tmp_path / "out"
    run = score(book, output, "--models-dir", service_models_dir)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (output / "scores").iterdir()) == ["part-00000.parquet"]
    assert sorted(p.name for p in (output / "rejects").iterdir()) == ["part-00000.csv"]
    assert read_output(output).equals(read_output(scored))  # every flag read as written
    rejects = read_output(output, "rejects", text=True)
    assert rejects.column("bp_treatment").to_pylist()[-1] == "yes"  # the row as it was given
    reasons = [json.loads(r) for r in rejects.column("rejected_reasons").to_pylist()]
    assert reasons[-1] == {"bp_treatment": ["Not a boolean; write TRUE or FALSE."]}
    assert len(reasons) == len(INVALID) + 1
    document = manifest(output)
    assert document["output"]["rejects_format"] == document["options"]["rejects_format"] == "csv"

    asked = tmp_path / "asked"
    run = score(book, asked, "--models-dir", service_models_dir, "--rejects-format", "parquet")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (asked / "rejects").iterdir()) == ["part-00000.parquet"]
    again = read_output(asked, "rejects")
    for name in ("applicant_id", "bp_treatment", "rejected_reasons"):
        assert again.column(name).equals(rejects.column(name)), name


def test_the_template_and_a_sampled_book_score_with_no_rejects(
    service_models_dir: Path, tmp_path: Path
) -> None:
    """The documented ways to try the scorer: examples/book.csv, and a book written by
    `python -m training sample`, each scored whole."""
    template = REPO / "examples" / "book.csv"
    rows = len(template.read_text().splitlines()) - 1
    run = score(template, tmp_path / "template", "--models-dir", service_models_dir)
    assert run.returncode == 0, run.stderr
    assert f"scored {rows} of {rows} rows; rejected 0" in run.stdout
    assert run.stderr == ""  # its own messages only: not LiteRT's delegate notice
    assert read_output(tmp_path / "template", "rejects").num_rows == 0

    book = tmp_path / "sampled.csv"
    command = [sys.executable, "-m", "training", "sample", "--rows", "300", "--out", str(book)]
    sampled = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout == f"wrote 300 synthetic applicants to {book} (seed 42)\n"
    run = score(book, tmp_path / "sampled", "--models-dir", service_models_dir)
    assert run.returncode == 0, run.stderr
    assert "scored 300 of 300 rows; rejected 0" in run.stdout
    scores = read_output(tmp_path / "sampled")
    assert scores.column("applicant_id").to_pylist()[:2] == ["A0000001", "A0000002"]
    assert manifest(tmp_path / "sampled")["counts"]["outcomes"].keys() >= {"accept", "refer"}


def test_the_input_is_never_overwritten(
    book: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    books = tmp_path / "books"
    books.mkdir()
    shutil.copy(book, books / "book.parquet")
    for output in (books, tmp_path, books / "out"):
        run = score(books, output, "--models-dir", service_models_dir, "--overwrite")
        assert run.returncode == 2, run.stderr
        assert "must not be the input, contain it or lie inside it" in run.stderr
    other = tmp_path / "other"
    other.mkdir()
    run = score(books, other, "--models-dir", service_models_dir, "--overwrite")
    assert run.returncode == 2 and "is not a scoring output" in run.stderr
    assert sorted(p.name for p in books.iterdir()) == ["book.parquet"]


def test_a_stopped_job_leaves_nothing_behind(service_models_dir: Path, tmp_path: Path) -> None:
    """SIGTERM (a scheduler stopping the job) removes the staging directory."""
    book = write_book(book_table(4_000, seed=6, invalid={}), tmp_path / "book.parquet")
    command = [
        sys.executable,
        "-m",
        "scoring",
        str(book),
        str(tmp_path / "out"),
        "--models-dir",
        str(service_models_dir),
        "--batch-rows",
        "1",
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.tmp-*/scores/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.tmp-*")), "the job never started writing"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM  # stopped at the next batch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.parquet"]


def test_an_existing_output_is_kept_unless_overwrite_is_asked(
    scored: Path, book: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    shutil.copytree(scored, output)
    before = (output / "_manifest.json").read_text()
    run = score(book, output, "--models-dir", service_models_dir)
    assert run.returncode == 2 and "exists (pass --overwrite" in run.stderr
    assert (output / "_manifest.json").read_text() == before
    run = score(book, output, "--models-dir", service_models_dir, "--overwrite", "--no-explain")
    assert run.returncode == 0, run.stderr
    assert manifest(output)["options"]["explain"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind


def test_on_invalid_fail_stops_and_leaves_nothing(
    book: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    run = score(book, output, "--models-dir", service_models_dir, "--on-invalid", "fail")
    assert run.returncode == 1
    assert "Must be greater than or equal to 18" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_protected_attribute_refuses_the_job_by_name(
    service_models_dir: Path, tmp_path: Path
) -> None:
    table = book_table(20, seed=3, invalid={})
    table = table.append_column("ethnicity", [["x"] * 20])
    book = write_book(table, tmp_path / "book.parquet")
    run = score(book, tmp_path / "out", "--models-dir", service_models_dir)
    assert run.returncode == 2
    assert "'ethnicity' is a protected attribute: it must not be sent" in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_pinned_version_scores_instead_of_the_newest(
    service_models_dir: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "models"
    shutil.copytree(service_models_dir, repository)
    publish_version(repository / "risk_class" / "1", repository, "risk_class", 2)
    book = write_book(book_table(30, seed=4, invalid={}), tmp_path / "book.parquet")
    newest, pinned = tmp_path / "newest", tmp_path / "pinned"
    assert score(book, newest, "--models-dir", repository).returncode == 0
    run = score(book, pinned, "--models-dir", repository, "--version", "risk_class=1")
    assert run.returncode == 0, run.stderr
    assert manifest(newest)["models"]["risk_class"]["version"] == 2
    assert manifest(pinned)["models"]["risk_class"]["version"] == 1
    assert set(read_output(pinned).column("risk_class_version").to_pylist()) == {1}
    missing = score(book, tmp_path / "x", "--models-dir", repository, "--version", "risk_class=9")
    assert missing.returncode == 2 and "risk_class version 9 is not in" in missing.stderr
