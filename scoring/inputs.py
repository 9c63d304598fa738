"""A book's input: Parquet or CSV files (one file or a directory), read in bounded batches.

CSV columns are typed from the declaration (numbers as float64, so a whole-number check can
refuse 42.5 row by row; flags as true/false; categories and every other column as text, so an
id such as 01234 stays as written). A CSV value that cannot be read as its column's type stops
the job, naming the value: a damaged file is not a rejected row.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from contract.features import Feature
from scoring.errors import JobRefused

T = TypeVar("T")
InputFormat = Literal["parquet", "csv"]
_SUFFIXES: dict[str, InputFormat] = {".parquet": "parquet", ".parq": "parquet", ".csv": "csv"}
CSV_TRUE, CSV_FALSE = ["true"], ["false"]  # JSON's spelling: 1/0 and yes/no are not flags


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
            files = sorted(p for p in root.rglob("*") if p.is_file() and _data_file(p, root))
        elif root.is_file():
            files = [root]
        else:
            raise JobRefused(f"input {path} does not exist")
        formats = {_SUFFIXES.get(p.suffix.lower()) for p in files}
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
                    digest.update(chunk)
            name = path.name if path == self.root else str(path.relative_to(self.root))
            overall.update(f"{name}\0{digest.hexdigest()}\n".encode())
            listed.append({"path": name, "bytes": path.stat().st_size,
                           "sha256": digest.hexdigest()})  # fmt: skip
        return {"sha256": overall.hexdigest(), "files": listed}


def _data_file(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not any(part.startswith((".", "_")) for part in parts)


def csv_types(header: list[str], declared: tuple[Feature, ...]) -> dict[str, pa.DataType]:
    """Column types for a CSV: declared features by their type, everything else as text."""
    by_name = {f.name: f for f in declared}
    kinds = {"integer": pa.float64(), "number": pa.float64(), "boolean": pa.bool_()}
    return {
        name: kinds.get(by_name[name].type, pa.string()) if name in by_name else pa.string()
        for name in header
    }


def csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def schema_of(source: Input, declared: tuple[Feature, ...]) -> pa.Schema:
    """The input's schema; every file must share it."""
    schemas = [_file_schema(path, source.format, declared) for path in source.files]
    for path, schema in zip(source.files, schemas, strict=True):
        if not schema.equals(schemas[0]):
            raise JobRefused(f"{path} has other columns than {source.files[0]}: "
                             f"{schema} against {schemas[0]}")  # fmt: skip
    return schemas[0]


def _file_schema(path: Path, kind: InputFormat, declared: tuple[Feature, ...]) -> pa.Schema:
    try:
        if kind == "parquet":
            return pq.read_schema(path)
        header = csv_header(path)
        return pa.schema([(name, t) for name, t in csv_types(header, declared).items()])
    except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise JobRefused(f"cannot read {path}: {exc}") from None


def total_rows(source: Input) -> int | None:
    """The input's row count from Parquet footers (CSV: unknown until read)."""
    if source.format != "parquet":
        return None
    return sum(pq.ParquetFile(path).metadata.num_rows for path in source.files)


def batches(source: Input, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Every row of the input, in order, at most `batch_rows` at a time."""
    for path in source.files:
        try:
            if source.format == "parquet":
                yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
            else:
                yield from _csv_batches(path, schema, batch_rows)
        except pa.ArrowInvalid as exc:
            raise JobRefused(f"cannot read {path}: {exc}") from None


def _csv_batches(path: Path, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema},
        true_values=CSV_TRUE,
        false_values=CSV_FALSE,
        strings_can_be_null=False,
    )
    # A block of ~batch_rows rows of 25 short fields; the reader's memory stays that size.
    read = pacsv.ReadOptions(block_size=max(1 << 20, batch_rows * 256))
    with pacsv.open_csv(path, read_options=read, convert_options=convert) as reader:
        for batch in reader:
            for start in range(0, batch.num_rows, batch_rows):
                yield batch.slice(start, batch_rows)
