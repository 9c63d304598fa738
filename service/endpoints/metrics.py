"""GET /metrics: one exposition for all gunicorn workers."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from service.observability.exposition import exposition


def create_blueprint(*computed: Collector) -> Blueprint:
    """Return the /metrics route (with metrics `computed` at scrape time)."""
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def scrape() -> Response:
        """Expose the metrics in the Prometheus text format."""
        return Response(exposition(*computed), content_type=CONTENT_TYPE_LATEST)

    return bp
