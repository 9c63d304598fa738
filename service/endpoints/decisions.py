"""`GET /v1/decisions/{request_id}`: the recorded decisions of one request, as stored."""

from __future__ import annotations

from flask import Blueprint, Response

from service.dataplane import Dataplane
from service.http import caller
from service.http.json_io import json_response


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the decision record routes (authenticated like predictions)."""
    bp = Blueprint("decisions", __name__, url_prefix="/v1/decisions")

    @bp.get("/<path:request_id>")
    def decisions(request_id: str) -> Response:
        """Every decision recorded for a request id, in record order, with its chain hashes."""
        return json_response(
            {
                "request_id": request_id,
                "decisions": dataplane.decisions(request_id, caller.current()),
            }
        )

    return bp
