"""The batch scorer on Apache Spark, for real (local[2]: two executors' worth of Python workers),
against the local engine and the HTTP service on the same records."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
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
from damaged_csv import DAMAGE, write_damaged
from service_support import served
from tool_support import in_ci, require_nginx, require_tool

from contract.flags import flag_text

ROWS = 3_000
SPARK = {"PYSPARK_SUBMIT_ARGS": "--master local[2] pyspark-shell"}


def require_spark() -> None:
    """pyspark (the `spark` extra) and a Java runtime: a failure under CI, a skip elsewhere."""
    require_tool("java", "Debian's default-jre-headless (make system-packages)")
    if importlib.util.find_spec("pyspark") is None:
        reason = "pyspark not installed; pip install -e '.[spark]'"
        if in_ci():
            pytest.fail(f"{reason}. CI is set, so a missing tool fails the test.")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of three Parquet files, as a book exported in parts arrives."""
    directory = tmp_path_factory.mktemp("book") / "book"
    directory.mkdir()
    table = book_table(ROWS, seed=8)
    for part, start in enumerate(range(0, ROWS, ROWS // 3)):
        write_book(table.slice(start, ROWS // 3), directory / f"part-{part}.parquet", 500)
    (directory / "_SUCCESS").touch()  # a writer's marker: not data, skipped
    return directory


@pytest.fixture(scope="module")
def outputs(
    book: Path, service_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    require_spark()
    root = tmp_path_factory.mktemp("outputs")
    found = {}
    for engine in ("local", "spark"):
        output = root / engine
        run = score(
            book,
            output,
            "--models-dir",
            service_models_dir,
            "--engine",
            engine,
            "--batch-rows",
            "700",
            env=SPARK,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
        found[engine] = output
    return found


def by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("applicant_id")


def test_spark_and_local_give_identical_results(outputs: dict[str, Path]) -> None:
    local, spark = (by_id(read_output(outputs[e])) for e in ("local", "spark"))
    assert spark.schema.equals(local.schema)
    assert spark.num_rows == local.num_rows == ROWS - len(INVALID)
    for name in local.column_names:
        if name.startswith("probabilities_"):
            difference = pa.compute.max(
                pa.compute.abs(pa.compute.subtract(spark.column(name), local.column(name)))
            ).as_py()
            assert difference <= 1e-6, name
        else:
            assert spark.column(name).equals(local.column(name)), name
    rejects = [by_id(read_output(outputs[e], "rejects")) for e in ("local", "spark")]
    assert rejects[0].equals(rejects[1])
    counted = [manifest(outputs[e])["counts"] for e in ("local", "spark")]
    assert counted[0] == counted[1]
    assert counted[1]["input"] == counted[1]["scored"] + counted[1]["rejected"] == ROWS


def test_spark_writes_parts_and_a_manifest_of_its_own(outputs: dict[str, Path]) -> None:
    document = manifest(outputs["spark"])
    assert document["options"]["engine"] == "spark"
    assert document["options"]["runtime_threads"] == 1
    assert {"start_spark_seconds", "scores_pass_seconds", "rejects_pass_seconds"} <= set(
        document["timings"]
    )
    assert (outputs["spark"] / "scores" / "_SUCCESS").is_file()  # Spark's own commit marker
    assert not [p for p in outputs["spark"].parent.iterdir() if p.name.startswith(".")]


def test_the_http_service_answers_each_record_as_the_book_was_scored(
    outputs: dict[str, Path], book: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    require_nginx()
    table = pq.ParquetDataset(book).read()
    rows = [r for i, r in enumerate(table.to_pylist()) if i not in INVALID]
    spark = {r["applicant_id"]: r for r in read_output(outputs["spark"]).to_pylist()}
    with served(service_models_dir, tmp_path / "service.log") as (base_url, _):
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            answer = requests.post(
                f"{base_url}/v1/models/underwriting:predict",
                json={"instances": [as_request(r) for r in chunk]},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            for row, theirs in zip(chunk, answer.json()["predictions"], strict=True):
                assert_same_answer(spark[row["applicant_id"]], theirs)


def test_spark_on_invalid_fail_leaves_nothing(
    book: Path, service_models_dir: Path, tmp_path: Path
) -> None:
    require_spark()
    output = tmp_path / "out"
    run = score(
        book,
        output,
        "--models-dir",
        service_models_dir,
        "--engine",
        "spark",
        "--on-invalid",
        "fail",
        env=SPARK,
    )
    assert run.returncode == 1, run.stderr[-3000:]
    assert "a row is invalid (--on-invalid fail)" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_spark_reads_csv_text_as_the_local_engine_does(
    service_models_dir: Path, tmp_path: Path
) -> None:
    """Two CSV parts, one value a word: both engines reject the word's row with the same
    reason and score the rest alike. Parts whose headers order the columns differently are
    read by name locally; Spark refuses them by name rather than read them by position."""
    require_spark()
    table = book_table(300, seed=12)
    ages = table.column("age").cast(pa.string()).to_pylist()
    ages[200] = "forty"
    table = table.set_column(table.schema.get_field_index("age"), "age", pa.array(ages))
    book = tmp_path / "book"
    book.mkdir()
    write_book(table.slice(0, 150), book / "part-0.csv")
    write_book(table.slice(150), book / "part-1.csv")
    outputs = {}
    for engine in ("local", "spark"):
        outputs[engine] = tmp_path / engine
        run = score(
            book,
            outputs[engine],
            "--models-dir",
            service_models_dir,
            "--engine",
            engine,
            "--format",
            "csv",
            env=SPARK,
        )
        assert run.returncode == 0, run.stderr[-3000:]
    local, spark = (by_id(read_output(outputs[e])) for e in ("local", "spark"))
    for name in ("applicant_id", "risk_class", "outcome", "reasons", "rules"):
        assert spark.column(name).to_pylist() == local.column(name).to_pylist(), name
    rejects = {e: by_id(read_output(outputs[e], "rejects", text=True)).to_pylist() for e in outputs}
    assert rejects["local"] == rejects["spark"]
    assert [r["applicant_id"] for r in rejects["spark"]][-1] == "A000200"

    write_book(table.slice(150).select(list(reversed(table.column_names))), book / "part-1.csv")
    local = score(
        book, tmp_path / "reordered-local", "--models-dir", service_models_dir, "--format", "csv"
    )
    assert local.returncode == 0, local.stderr[-3000:]
    assert read_output(tmp_path / "reordered-local").equals(read_output(outputs["local"]))
    spark_run = score(
        book,
        tmp_path / "reordered-spark",
        "--models-dir",
        service_models_dir,
        "--engine",
        "spark",
        env=SPARK,
    )
    assert spark_run.returncode == 1
    assert "CSV header does not conform to the schema" in spark_run.stderr
    assert "Traceback" not in spark_run.stderr
    assert not (tmp_path / "reordered-spark").exists()


def test_a_spreadsheet_book_scores_alike_on_both_engines(
    service_models_dir: Path, tmp_path: Path
) -> None:
    """A CSV book saved by a spreadsheet (flags TRUE and FALSE, one flag a word), with the
    default formats: both engines score every other row alike into Parquet and reject the
    word's row, saying what to write, into CSV as the book was."""
    require_spark()
    table = book_table(300, seed=14)
    flags = [flag_text(value) for value in table.column("hazardous_avocation").to_pylist()]
    flags[150] = "no"
    index = table.schema.get_field_index("hazardous_avocation")
    table = table.set_column(index, "hazardous_avocation", pa.array(flags, pa.string()))
    book = write_spreadsheet_csv(table, tmp_path / "book.csv")
    outputs = {}
    for engine in ("local", "spark"):
        outputs[engine] = tmp_path / engine
        run = score(
            book, outputs[engine], "--models-dir", service_models_dir, "--engine", engine, env=SPARK
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert manifest(outputs[engine])["output"]["rejects_format"] == "csv"
        assert {p.suffix for p in (outputs[engine] / "rejects").glob("part-*")} == {".csv"}
    local, spark = (by_id(read_output(outputs[e])) for e in ("local", "spark"))
    assert spark.num_rows == local.num_rows == 300 - len(INVALID) - 1
    for name in ("applicant_id", "risk_class", "outcome", "offer", "reasons", "rules"):
        assert spark.column(name).equals(local.column(name)), name
    rejects = {e: by_id(read_output(outputs[e], "rejects", text=True)).to_pylist() for e in outputs}
    assert rejects["local"] == rejects["spark"]
    (word,) = [r for r in rejects["spark"] if r["applicant_id"] == "A000150"]
    assert json.loads(word["rejected_reasons"]) == {
        "hazardous_avocation": ["Not a boolean; write TRUE or FALSE."]
    }
    assert manifest(outputs["spark"])["counts"] == manifest(outputs["local"])["counts"]


def test_spark_refuses_a_damaged_csv_as_the_local_engine_does(
    service_models_dir: Path, tmp_path: Path
) -> None:
    """Each damaged file of the local engine's tests: refused before Spark starts, naming the
    same line, nothing written."""
    require_spark()
    for case in DAMAGE:
        book = tmp_path / case.replace(" ", "-") / "book.csv"
        book.parent.mkdir()
        line = write_damaged(case, book)
        output = tmp_path / "out"
        run = score(
            book, output, "--models-dir", service_models_dir, "--engine", "spark", env=SPARK
        )
        assert run.returncode == 2, (case, run.stderr[-3000:])
        assert f"python -m scoring: refused: {book}: line {line}" in run.stderr, case
        assert "Traceback" not in run.stderr
    assert not [p for p in tmp_path.iterdir() if not p.is_dir() or p.name.startswith((".", "out"))]
