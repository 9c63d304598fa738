"""Liveness and readiness: alive while the process answers; ready once every model is warm."""

from __future__ import annotations

from flask import Blueprint, Response

from service.dataplane import Dataplane
from service.http.json_io import json_response


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the /healthz and /readyz routes for one dataplane."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        """Answer 200 while the worker can serve HTTP, models or not."""
        return json_response({"status": "alive"})

    @bp.get("/readyz")
    def readyz() -> Response:
        """Answer 200 with the serving versions, or 503 saying what is missing."""
        serving = dataplane.ready()
        versions = {n: {m: str(v) for m, v in s.versions.items()} for n, s in serving.items()}
        return json_response({"status": "ready", "models": versions})

    return bp
