"""The one pipeline every protocol calls: validate -> pack -> infer -> derive, for one servable.

Protocols decode their wire format into `Rows` or `Columns` and encode the `Prediction` they get
back; everything between (validation against the served declaration, packing for the runtime,
the model call, derived outputs, prediction metrics) happens here, once, and `on_scored` hears
of every scored request (the app wires it to the access log and the records histogram). It knows
nothing of HTTP, so a batch job can drive it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.http.errors import NotFound
from service.inference.prediction import Prediction, predict
from service.inference.servable import Servable
from service.repository.store import ModelStore, VersionStatus

ScoredHook = Callable[[int, dict[str, int]], None]  # (records scored, model -> version)


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

    def __init__(
        self,
        store: ModelStore[Servable],
        max_records: int,
        on_scored: ScoredHook = lambda size, versions: None,
    ) -> None:
        self.store = store
        self.max_records = max_records
        self.on_scored = on_scored

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
        prediction = predict(servable, batch)
        self.on_scored(prediction.size, prediction.versions)
        return prediction

    def ready(self) -> dict[str, Servable]:
        """Return what serves if every name does (503 saying what is missing otherwise)."""
        return self.store.require_ready()

    def statuses(self, name: str) -> list[tuple[str, VersionStatus]]:
        """Every version state behind a name, with the model it belongs to (404 unknown)."""
        if name not in self.store.servable_names():
            raise NotFound(f"Unknown model {name!r}", {"models": self.store.servable_names()})
        components = self.store.composites.get(name, (name,))
        return [(model, status) for model in components for status in self.store.statuses(model)]
