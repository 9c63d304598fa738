"""The batch scorer's files: inputs read alike whatever their parts make of a column, a damaged
CSV refused by its line, outputs published only over an earlier output by one run at a time,
and the reading thread's errors and early exits."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from damaged_csv import DAMAGE, book_lines, write_damaged

from scoring.errors import JobFailed, JobRefused
from scoring.inputs import Input, batches, read_ahead, schema_of, total_rows
from scoring.locking import lock_path, output_lock
from scoring.outputs import LocalFiles, publish


def test_parquet_parts_are_read_in_one_schema_with_values_as_written(tmp_path: Path) -> None:
    """float32 and decimal parts keep 132.9; int64 beside double, dictionary beside plain text
    and an all-null part read in the type that holds them all, columns in the first's order."""
    parts = [
        {
            "height_cm": pa.array([132.9], pa.float32()),
            "sex": pa.array(["male"]).dictionary_encode(),
            "age": pa.array([40], pa.int64()),
        },
        {"age": pa.array([41.0]), "height_cm": pa.array([132.9]), "sex": pa.array(["female"])},
        {
            "sex": pa.array([None], pa.string()),
            "age": pa.array([None], pa.null()),
            "height_cm": pa.array(["132.90"], pa.string()).cast(pa.decimal128(10, 2)),
        },
    ]
    for i, columns in enumerate(parts):
        pq.write_table(pa.table(columns), tmp_path / f"part-{i}.parquet")
    source = Input.at(str(tmp_path))
    schema = schema_of(source)
    assert schema.names == ["height_cm", "sex", "age"]
    rows = pa.Table.from_batches(list(batches(source, schema, 10))).to_pylist()
    assert rows == [
        {"height_cm": 132.9, "sex": "male", "age": 40.0},
        {"height_cm": 132.9, "sex": "female", "age": 41.0},
        {"height_cm": 132.9, "sex": None, "age": None},
    ]


def test_csv_parts_are_text_matched_by_header(tmp_path: Path) -> None:
    pacsv.write_csv(pa.table({"age": ["40"], "id": ["007"]}), tmp_path / "a.csv")
    pacsv.write_csv(pa.table({"id": ["008"], "age": [""]}), tmp_path / "b.csv")
    (tmp_path / "_SUCCESS").touch()
    source = Input.at(str(tmp_path))
    schema = schema_of(source)
    assert schema == pa.schema([("age", pa.string()), ("id", pa.string())])
    rows = pa.Table.from_batches(list(batches(source, schema, 10))).to_pylist()
    assert rows == [{"age": "40", "id": "007"}, {"age": None, "id": "008"}]


def test_reading_ahead_keeps_order_hands_over_errors_and_stops_early() -> None:
    def items(fail_at: int | None) -> Iterator[int]:
        for i in range(10):
            if i == fail_at:
                raise OSError("the disk went away")
            yield i

    assert list(read_ahead(items(None))) == list(range(10))
    with pytest.raises(OSError, match="the disk went away"):
        list(read_ahead(items(3)))
    before = threading.active_count()
    ahead = read_ahead(items(None))
    assert next(ahead) == 0
    ahead.close()  # leaving early: the reading thread ends
    assert threading.active_count() == before


def test_publish_replaces_only_an_earlier_output(tmp_path: Path) -> None:
    staging, output = tmp_path / ".out.tmp", tmp_path / "out"
    staging.mkdir()
    (staging / "_manifest.json").write_text("{}")
    output.mkdir()  # appeared while the job ran: not an output of ours
    with pytest.raises(JobFailed, match="not a scoring output"):
        publish(LocalFiles(), str(staging), str(output), overwrite=True)
    (output / "_manifest.json").write_text("{}")
    with pytest.raises(JobFailed):
        publish(LocalFiles(), str(staging), str(output), overwrite=False)
    (output / "old").touch()
    publish(LocalFiles(), str(staging), str(output), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in output.iterdir()) == ["_manifest.json"]


def test_every_line_of_a_csv_book_is_one_row(tmp_path: Path) -> None:
    """Windows line ends, no line feed after the last line, a quoted comma, a doubled quote,
    text beyond ASCII: each line after the header is counted as one row, nothing refused."""
    lines = [text.replace(b"\n", b"\r\n") for text in book_lines()]
    lines[2] = lines[2].replace(b'"A0', '"Zoë ""Z"", Ł 0'.encode())
    lines[-1] = lines[-1].rstrip(b"\r\n")
    book = tmp_path / "book.csv"
    book.write_bytes(b"".join(lines))
    assert total_rows(Input.at(str(book))) == len(lines) - 1
    rows = pa.Table.from_batches(
        list(batches(Input.at(str(book)), schema_of(Input.at(str(book))), 2))
    )
    assert rows.num_rows == len(lines) - 1
    assert rows.column("applicant_id")[1].as_py().startswith('Zoë "Z", Ł 0')


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_csv_is_refused_naming_its_line(case: str, tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    line = write_damaged(case, book)
    source = Input.at(str(book))
    with pytest.raises(JobRefused, match=rf"^{re.escape(str(book))}: line {line}\b"):
        schema_of(source)
        total_rows(source)


def test_one_run_holds_an_output_and_the_next_removes_what_killed_runs_left(
    tmp_path: Path,
) -> None:
    output = tmp_path / "out"
    killed = [tmp_path / ".out.tmp-0123456789ab", tmp_path / ".out.old-ba9876543210"]
    others = [tmp_path / ".out.tmp-mine", tmp_path / ".outer.tmp-0123456789ab", tmp_path / "x"]
    for path in killed + others:
        path.mkdir()
    with output_lock(output):
        assert not any(p.exists() for p in killed) and all(p.exists() for p in others)
        assert lock_path(output).exists()
        with pytest.raises(JobRefused, match="being written by another run .*out.lock"):
            with output_lock(output):
                pass
    assert not lock_path(output).exists()
    # Killed between moving an earlier output aside and renaming the new one into place:
    # the earlier output is put back.
    aside = tmp_path / ".out.old-0123456789ab"
    aside.mkdir()
    (aside / "_manifest.json").write_text("{}")
    with output_lock(output):
        pass
    assert (output / "_manifest.json").is_file() and not aside.exists()
