"""The batch scorer never loses a row: a damaged CSV is refused naming its file and line before
anything is written, and what a killed run left beside OUTPUT is removed by the next run,
never what a live run is writing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from book_support import book_table, manifest, score, write_book
from damaged_csv import DAMAGE, write_damaged
from paths import REPO


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_csv_is_refused_naming_its_file_and_line(
    case: str, service_models_dir: Path, tmp_path: Path
) -> None:
    book = tmp_path / "book.csv"
    line = write_damaged(case, book)
    run = score(book, tmp_path / "out", "--models-dir", service_models_dir)
    assert run.returncode == 2, run.stderr[-3000:]
    (said,) = [text for text in run.stderr.splitlines() if text.startswith("python -m scoring")]
    assert said.startswith(f"python -m scoring: refused: {book}: line {line}"), said
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv"]  # nothing, no lock left


def _waited(found: Callable[[], list[Path]], what: str, seconds: float = 120) -> list[Path]:
    deadline = time.monotonic() + seconds
    while not (paths := found()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert paths, f"timed out waiting for {what}"
    return paths


def test_a_killed_runs_staging_is_removed_by_the_next_run_never_a_live_ones(
    service_models_dir: Path, tmp_path: Path
) -> None:
    book = write_book(book_table(3_000, seed=6, invalid={}), tmp_path / "book.parquet")
    output = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "scoring",
        str(book),
        str(output),
        "--models-dir",
        str(service_models_dir),
        "--batch-rows",
        "1",  # slow enough to be caught in the middle
        "--no-progress",
    ]

    def writing() -> list[Path]:
        return [p.parents[1] for p in tmp_path.glob(".out.tmp-*/scores/*")]

    killed = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    (left,) = _waited(writing, "the first run to write")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert left.is_dir()  # nothing runs after SIGKILL: its staging stays

    live = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        (staging,) = _waited(lambda: [p for p in writing() if p != left], "the next run")
        _waited(lambda: [] if left.exists() else [left], "the killed run's staging to go")

        second = score(book, output, "--models-dir", service_models_dir)
        assert second.returncode == 2, second.stderr[-3000:]
        assert f"output {output} is being written by another run" in second.stderr
        assert str(tmp_path / ".out.lock") in second.stderr
        assert staging.is_dir() and list(staging.glob("scores/*"))  # the live run's, kept
        _, errors = live.communicate(timeout=600)
        assert live.returncode == 0, errors[-3000:]
    finally:
        live.kill()
    assert "removed" in errors and left.name in errors  # said what it cleaned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.parquet", "out"]
    assert manifest(output)["counts"]["scored"] == 3_000
