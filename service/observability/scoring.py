"""What a scored request leaves behind: its size in the records histogram, a note for the log."""

from __future__ import annotations

from service.observability import access_log, metrics
from service.observability.http_metrics import route_label


def record_size(size: int) -> None:
    """Observe how many records the current request carries, by route."""
    metrics.REQUEST_RECORDS.labels(route_label()).observe(size)


def record_scored(size: int, versions: dict[str, int]) -> None:
    """Tell the access log how many records were scored and by which versions."""
    access_log.note_prediction(size, versions)
