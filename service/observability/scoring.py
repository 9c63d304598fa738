"""What a scored request leaves behind: its size in the records histogram, a note for the log."""

from __future__ import annotations

from service.observability import access_log, metrics
from service.observability.http_metrics import route_label


def record_scored(size: int, versions: dict[str, int]) -> None:
    """Observe the request's record count by route; tell the access log what was scored."""
    metrics.REQUEST_RECORDS.labels(route_label()).observe(size)
    access_log.note_prediction(size, versions)
