"""A book's input: Parquet or CSV files (one file or a directory), read in bounded batches.

CSV is read as text, every column: the scorer reads each feature's text as JSON reads a value
(scoring.values), so a word in a number column rejects its row with the service's reason
rather than stopping the job, and an id such as 01234 stays as written. An empty field is null.
Every line after a CSV file's header is one row: scoring.csvlines checks so before scoring.
The files of a directory must hold the same columns, in any order; Parquet parts may differ
in how they type one (int64 in one part, double in another, all-null in a third): they are read
in the one schema that holds them all.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring import csvlines
from scoring.errors import JobFailed, JobRefused
from scoring.stopping import check_stop
from scoring.values import widened

T = TypeVar("T")
InputFormat = Literal["parquet", "csv"]
SUFFIXES: dict[str, InputFormat] = {".parquet": "parquet", ".parq": "parquet", ".csv": "csv"}
_MAX_BLOCK = 1 << 28  # the CSV reader's block size is a 32-bit count of bytes


def is_data_name(name: str) -> bool:
    """A data file's name: not hidden, not a writer's marker (_SUCCESS, _metadata)."""
    return not name.startswith((".", "_"))


@dataclass(frozen=True)
class Input:
    """The files of one input, in the order their rows are read."""

    root: Path
    format: InputFormat
    files: tuple[Path, ...]

    @classmethod
    def at(cls, path: str) -> Input:
        """Find the input's files: a file, or a directory of them (hidden and _files skipped)."""
        root = Path(path)
        if root.is_dir():
            files = sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and all(is_data_name(part) for part in p.relative_to(root).parts)
            )
        elif root.is_file():
            files = [root]
        else:
            raise JobRefused(f"input {path} does not exist")
        formats = {SUFFIXES.get(p.suffix.lower()) for p in files}
        if not files or None in formats or len(formats) != 1:
            names = ", ".join(sorted({p.suffix or p.name for p in files})) or "none"
            raise JobRefused(f"input {path}: expected .parquet or .csv files (found: {names})")
        return cls(root, formats.pop(), tuple(files))  # type: ignore[arg-type]

    def fingerprint(self) -> dict[str, object]:
        """sha256 over every file's relative name and content: equal inputs, equal prints."""
        overall = hashlib.sha256()
        listed = []
        for path in self.files:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    check_stop()  # a book of gigabytes takes seconds to hash
                    digest.update(chunk)
            name = path.name if path == self.root else str(path.relative_to(self.root))
            overall.update(f"{name}\0{digest.hexdigest()}\n".encode())
            listed.append(
                {"path": name, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
            )
        return {"sha256": overall.hexdigest(), "files": listed}


def schema_of(source: Input) -> pa.Schema:
    """The input's schema: every CSV column as text; Parquet files' schemas unified."""
    try:
        if source.format == "csv":
            headers = [csvlines.header(path) for path in source.files]
            for path, header in zip(source.files, headers, strict=True):
                if sorted(header) != sorted(headers[0]):  # the same columns, in any order
                    raise JobRefused(
                        f"{path} has other columns than {source.files[0]}: "
                        f"{header} against {headers[0]}"
                    )
            return pa.schema([(name, pa.string()) for name in headers[0]])
        schemas = [pq.read_schema(path) for path in source.files]
    except (OSError, pa.ArrowException) as exc:
        raise JobRefused(f"cannot read {source.root}: {exc}") from None
    names = schemas[0].names
    for path, schema in zip(source.files, schemas, strict=True):
        if sorted(schema.names) != sorted(names) or len(set(names)) != len(names):
            raise JobRefused(
                f"{path} has other columns than {source.files[0]}: {schema.names} against {names}"
            )
    ordered = [pa.schema([_plain(schema.field(name)) for name in names]) for schema in schemas]
    if all(schema.equals(schemas[0]) for schema in schemas):
        return schemas[0]
    try:
        return pa.unify_schemas(ordered, promote_options="permissive")
    except pa.ArrowException as exc:
        raise JobRefused(f"the files of {source.root} type a column incompatibly: {exc}") from None


def total_rows(source: Input) -> int:
    """The input's row count: from Parquet footers; a CSV file's lines after its header, each
    checked to be one whole row (scoring.csvlines refuses the job otherwise)."""
    try:
        if source.format == "csv":
            return sum(csvlines.data_lines(p, csvlines.header(p)) for p in source.files)
        return sum(pq.ParquetFile(path).metadata.num_rows for path in source.files)
    except (OSError, pa.ArrowException) as exc:
        raise JobRefused(f"cannot read {source.root}: {exc}") from None


def batches(source: Input, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Every row of the input, in order, at most `batch_rows` at a time, in `schema`; decoded
    one batch ahead on a thread of its own (decoding releases the GIL: it overlaps scoring)."""
    return read_ahead(_batches(source, schema, batch_rows))


def _batches(source: Input, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for path in source.files:
        try:
            if source.format == "parquet":
                for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                    yield batch if batch.schema.equals(schema) else _conform(batch, schema)
            else:
                yield from _csv_batches(path, schema, batch_rows)
        except (OSError, pa.ArrowException) as exc:
            raise JobFailed(f"cannot read {path}: {exc}") from None


def _plain(field: pa.Field) -> pa.Field:
    """A dictionary-encoded field as its values' type (parts may encode a column or not)."""
    if pa.types.is_dictionary(field.type):
        return field.with_type(field.type.value_type)
    return field


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A part's batch in the input's unified schema: its columns in the first part's order,
    typed as they unify (int64 as double, all-null as typed, float32 through its text)."""
    columns = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_float32(column.type) or pa.types.is_decimal(column.type):
            column = widened(column)
        columns.append(column.cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _csv_batches(path: Path, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema},
        strings_can_be_null=True,  # an empty field is null, as Spark reads it
        null_values=[""],
    )
    # A block of ~batch_rows rows of 25 short fields; the reader's memory stays that size.
    read = pacsv.ReadOptions(block_size=min(_MAX_BLOCK, max(1 << 20, batch_rows * 256)))
    with pacsv.open_csv(path, read_options=read, convert_options=convert) as reader:
        for batch in reader:
            if batch.schema.names != schema.names:  # this part's header has its own order
                batch = batch.select(schema.names)
            for start in range(0, batch.num_rows, batch_rows):
                yield batch.slice(start, batch_rows)


def read_ahead(items: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """Yield `items` in order while a thread produces up to `depth` of them ahead; an error
    in producing is raised here, in order; leaving early stops the thread."""
    ahead: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def offer(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ahead.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(("item", item)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed to the consumer, never lost
            offer(("error", exc))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = ahead.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()
