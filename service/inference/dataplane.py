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
    """Records: one object per applicant, validated here unless a typed decoder already did."""

    records: Any
    validated: bool = False


@dataclass(frozen=True)
class Columns:
    """Records: one array of values per feature, validated here unless already done."""

    columns: Any
    validated: bool = False


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
        validator, packer = servable.validator, servable.packer
        if isinstance(records, Rows):
            rows = records.records
            valid = rows if records.validated else validator.rows_valid(rows, self.max_records)
            batch = packer.rows(valid)
        else:
            columns = records.columns
            if not records.validated:
                columns = validator.columns_valid(columns, self.max_records)
            batch = packer.columns(columns)
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
