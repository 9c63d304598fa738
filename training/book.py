"""A synthetic book: generated applicants written as a file, to try the batch scorer on.

`python -m training sample --rows 1000 --out book.csv` writes that many applicants from the
seeded generator: an `applicant_id`, every declared feature, and the amount each applied for
(`requested_coverage`). CSV as a spreadsheet saves it (flags TRUE and FALSE, nothing quoted),
or Parquet by the file's suffix. No labels: a book is scored, not trained on. The generator
is NumPy alone: writing a book never starts TensorFlow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from contract.flags import flag_text
from training.features import FEATURES
from training.options import DEFAULT_SEED
from training.synthetic import generate

ID_COLUMN = "applicant_id"
REQUESTED = "requested_coverage"  # the service's optional request field: the amount applied for
SUFFIXES = (".csv", ".parquet")


def book_table(rows: int, seed: int = DEFAULT_SEED) -> pa.Table:
    """`rows` generated applicants as a book's columns, in the declaration's order."""
    sample = generate(rows, seed)
    columns: dict[str, pa.Array] = {ID_COLUMN: pa.array([f"A{i:07d}" for i in range(1, rows + 1)])}
    columns |= {f.name: pa.array(sample.features[f.name]) for f in FEATURES}
    columns[REQUESTED] = pa.array(sample.face_amount)
    return pa.table(columns)


def write_book(table: pa.Table, path: Path) -> None:
    """Write the book as Parquet, or as CSV the way a spreadsheet saves it."""
    if path.suffix == ".parquet":
        pq.write_table(table, path)
        return
    text = table
    for name in (f.name for f in FEATURES if f.type == "boolean"):
        words = pc.if_else(table.column(name), flag_text(True), flag_text(False))
        text = text.set_column(text.schema.get_field_index(name), name, words)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(text, handle, options)


def _rows(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return int(text)


def main(argv: list[str]) -> int:
    """`python -m training sample`: write a synthetic book; 2 when asked for what cannot be."""
    parser = argparse.ArgumentParser(
        prog="python -m training sample",
        description="Write a book of synthetic applicants to try the batch scorer "
        "(python -m scoring) on: an applicant_id, every declared feature and the amount "
        "applied for (requested_coverage); no labels.",
    )
    parser.add_argument("--rows", type=_rows, required=True, help="applicants to write")
    parser.add_argument("--out", type=Path, required=True, help="a .csv or .parquet file")
    seed = f"the generator's seed (default {DEFAULT_SEED})"
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=seed)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    if args.out.suffix not in SUFFIXES:
        parser.error(f"--out {args.out}: name a .csv or .parquet file")
    if args.out.exists() and not args.overwrite:
        parser.error(f"--out {args.out} exists (pass --overwrite to replace it)")
    if not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: the directory {args.out.parent} does not exist")
    write_book(book_table(args.rows, args.seed), args.out)
    print(f"wrote {args.rows:,} synthetic applicants to {args.out} (seed {args.seed})")
    return 0
