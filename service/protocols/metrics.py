"""GET /metrics: one exposition for all gunicorn workers."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.observability.exposition import exposition


def create_blueprint() -> Blueprint:
    """Return the /metrics route."""
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def scrape() -> Response:
        """Expose the metrics in the Prometheus text format."""
        return Response(exposition(), content_type=CONTENT_TYPE_LATEST)

    return bp
