"""The job's output directory: written under a hidden temporary name, renamed when complete.

OUTPUT/scores/part-*.{parquet,csv}, OUTPUT/rejects/part-*, OUTPUT/_manifest.json. A reader never
sees a half-written output: until the rename, OUTPUT is absent (or, with --overwrite, still the
previous run's complete output); a failed job leaves nothing behind.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring.errors import JobFailed, JobRefused
from scoring.job import MANIFEST_FILE, OutputFormat


def refuse_unsafe(output: Path, source: Path, overwrite: bool) -> None:
    """Refuse an OUTPUT that would overwrite the input, or anything but an earlier output."""
    out, given = output.resolve(), source.resolve()
    if out == given or out in given.parents or given in out.parents:
        raise JobRefused(f"output {output} must not be the input, contain it or lie inside it")
    if out.parent == out:
        raise JobRefused(f"output {output} must be a directory to create, not the root")
    files = LocalFiles()
    if files.exists(str(output)):
        if not overwrite:
            raise JobRefused(f"output {output} exists (pass --overwrite to replace it)")
        if not files.is_output(str(output)):
            raise JobRefused(
                f"output {output} exists and is not a scoring output (no "
                f"{MANIFEST_FILE}): it is not replaced"
            )
    if not out.parent.is_dir():
        raise JobRefused(f"the directory of output {output} does not exist")


class Files(Protocol):
    """The file operations publishing needs: local (os) or Hadoop's (scoring.spark)."""

    def exists(self, path: str) -> bool: ...

    def is_output(self, path: str) -> bool:
        """Whether `path` is an earlier scoring output (a directory with its manifest)."""

    def rename(self, source: str, target: str) -> None: ...

    def delete(self, path: str) -> None: ...


class LocalFiles:
    """Files on this machine's file system."""

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def is_output(self, path: str) -> bool:
        return not os.path.islink(path) and os.path.isfile(os.path.join(path, MANIFEST_FILE))

    def rename(self, source: str, target: str) -> None:
        os.rename(source, target)

    def delete(self, path: str) -> None:
        shutil.rmtree(path)


def hidden_sibling(output: str, kind: str) -> str:
    """A hidden name beside OUTPUT (`.out.tmp-...`), on its file system: renames stay atomic."""
    head, _, tail = output.rstrip("/").rpartition("/")
    hidden = f".{tail}.{kind}-{uuid.uuid4().hex[:12]}"
    return f"{head}/{hidden}" if head or output.startswith("/") else hidden


def publish(files: Files, staging: str, output: str, overwrite: bool) -> None:
    """Move the complete staging directory to OUTPUT, replacing only an earlier output (checked
    again now: something may have appeared there while the job ran)."""
    if not files.exists(output):
        files.rename(staging, output)
        return
    if not overwrite or not files.is_output(output):
        raise JobFailed(
            f"{output} appeared while the job ran and is not a scoring output to replace"
        )
    old = hidden_sibling(output, "old")
    files.rename(output, old)  # out of the way first: the new output appears in one rename
    try:
        files.rename(staging, output)
    except BaseException:
        files.rename(old, output)  # the earlier output stays where it was
        raise
    files.delete(old)


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / MANIFEST_FILE).write_bytes(manifest_bytes(manifest))


class PartWriter:
    """One part file of one output, written batch by batch (each batch a Parquet row group)."""

    def __init__(self, path: Path, schema: pa.Schema, kind: OutputFormat) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path.with_suffix(f".{kind}")
        self._writer: pq.ParquetWriter | pacsv.CSVWriter
        if kind == "parquet":
            self._writer = pq.ParquetWriter(self.path, schema, compression="snappy")
        else:
            self._writer = pacsv.CSVWriter(self.path, schema)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


class WriteBehind:
    """Writes each step's batches to their part files on a thread of its own.

    Encoding and compressing Parquet releases the GIL: the next batch is checked and scored
    while this one is written. At most `depth` steps wait, so memory stays bounded; an error
    in writing is raised by the next `put` or by `close`.
    """

    def __init__(self, writers: Sequence[PartWriter], depth: int = 2) -> None:
        self.writers = tuple(writers)
        self._queue: queue.Queue[tuple[pa.RecordBatch, ...] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (step := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain: the producer learns of the error at its next put
            try:
                for writer, batch in zip(self.writers, step, strict=True):
                    writer.write(batch)
            except BaseException as exc:  # handed to the producer, never lost
                self._error = exc

    def put(self, *batches: pa.RecordBatch) -> None:
        self._raise()
        self._queue.put(batches)

    def abandon(self) -> None:
        """Stop after what is queued and close the files, keeping quiet about their errors:
        the job is failing already, for a reason of its own."""
        try:
            self.close()
        except Exception:  # the first failure is the one reported
            pass

    def close(self) -> None:
        """Wait for every batch to be written, close the files, raise a writing error."""
        self._queue.put(None)
        self._thread.join()
        for writer in self.writers:
            writer.close()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
