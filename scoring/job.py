"""What one scoring job was asked to do, and what it counted while doing it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from scoring.checking import REASONS_COLUMN, field_counts
from scoring.scorer import ModelChoice

OutputFormat = Literal["parquet", "csv"]
SCORES_DIR = "scores"
REJECTS_DIR = "rejects"
MANIFEST_FILE = "_manifest.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Job:
    """One run of the command, as parsed from its arguments."""

    input: str
    output: str
    models: ModelChoice
    id_columns: tuple[str, ...] | None = None  # None: the input's declared identifiers
    format: OutputFormat = "parquet"
    rejects_format: OutputFormat | None = None  # None: the input's, a CSV book's rejects as CSV
    engine: Literal["local", "spark"] = "local"
    batch_rows: int = 32_768
    on_invalid: Literal["reject", "fail"] = "reject"
    overwrite: bool = False
    explain: bool = True
    progress: bool = True
    argv: tuple[str, ...] = ()  # the command's arguments, for the manifest

    def reading(self, input_format: OutputFormat) -> Job:
        """This job on an input of `input_format`: its rejects in that format unless asked."""
        return replace(self, rejects_format=self.rejects_format or input_format)

    @property
    def rejects_as(self) -> OutputFormat:
        """The rejects' format, once `reading` has given the input's."""
        if self.rejects_format is None:
            raise ValueError("the rejects' format follows the input's: call reading() first")
        return self.rejects_format

    def csv_options(self) -> tuple[str, ...]:
        """The options that write an output as CSV (which holds flat values only)."""
        asked = (("--format", self.format), ("--rejects-format", self.rejects_format))
        return tuple(option for option, kind in asked if kind == "csv")

    def options(self) -> dict[str, Any]:
        """The options that shaped the output, for the manifest."""
        return {
            "engine": self.engine,
            "format": self.format,
            "rejects_format": self.rejects_format,
            "batch_rows": self.batch_rows,
            "on_invalid": self.on_invalid,
            "explain": self.explain,
            "runtime": self.models.runtime,
            "runtime_threads": self.models.threads,
        }


@dataclass
class Tally:
    """Rows counted as they are written: what the manifest and the summary report."""

    scored: int = 0
    rejected: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    rejected_by_field: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.scored + self.rejected

    def add_scores(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.scored += batch.num_rows
        for column, counts in (("outcome", self.outcomes), ("risk_class", self.classes)):
            if column in batch.schema.names and batch.num_rows:
                for entry in pc.value_counts(batch.column(column)).to_pylist():
                    counts[entry["values"]] = counts.get(entry["values"], 0) + entry["counts"]

    def add_rejects(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.rejected += batch.num_rows
        if batch.num_rows:
            reasons = batch.column(REASONS_COLUMN).to_pylist()
            for name, count in field_counts(reasons).items():
                self.rejected_by_field[name] = self.rejected_by_field.get(name, 0) + count

    def to_json(self, input_rows: int) -> dict[str, Any]:
        return {
            "input": input_rows,
            "scored": self.scored,
            "rejected": self.rejected,
            "rejected_by_field": dict(sorted(self.rejected_by_field.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "risk_classes": dict(sorted(self.classes.items())),
        }
