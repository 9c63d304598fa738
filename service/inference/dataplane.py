"""The one pipeline every protocol calls: validate -> pack -> infer -> derive, for one servable.

Protocols decode their wire format into `Rows` or `Columns` and encode the `Prediction` they get
back; everything between (validation against the served declaration, packing, the model call,
derived outputs, prediction metrics, the access log's note) happens here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.inference.prediction import Prediction, predict
from service.inference.servable import Servable
from service.observability import scoring
from service.repository.store import ModelStore


@dataclass(frozen=True)
class Rows:
    """Records as sent: one object per applicant (validated by the dataplane)."""

    records: Any


@dataclass(frozen=True)
class Columns:
    """Records as sent: one array of values per feature (validated by the dataplane)."""

    columns: Any


class Dataplane:
    """Finds the servable for a request and scores the request's records with it."""

    def __init__(self, store: ModelStore[Servable], max_records: int) -> None:
        self.store = store
        self.max_records = max_records

    def servable(self, name: str, version: int | None = None) -> Servable:
        """Return the servable a request addresses (404 unknown, 503 not loaded yet)."""
        return self.store.get(name, version)

    def infer(self, servable: Servable, records: Rows | Columns) -> Prediction:
        """Validate every record (400 naming each failure), then score them in one call."""
        validator = servable.validator
        if isinstance(records, Rows):
            batch = servable.packer.rows(validator.rows_valid(records.records, self.max_records))
        else:
            columns = validator.columns_valid(records.columns, self.max_records)
            batch = servable.packer.columns(columns)
        scoring.record_size(batch.size)
        prediction = predict(servable, batch)
        scoring.record_scored(prediction.size, prediction.versions)
        return prediction
