"""What a scored request leaves behind: its size in the records histogram, a note for the log."""

from __future__ import annotations

from flask import request

from service.observability import access_log, http_metrics


def record_scored(size: int, versions: dict[str, int]) -> None:
    """Observe the request's record count by route; tell the access log what was scored."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    http_metrics.observe_records(http_metrics.route_label(current), size)
    access_log.note_prediction(current.environ, size, versions)
