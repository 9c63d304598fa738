"""The underwriters' routes: the queue of cases, a case read whole, claimed and released.

`GET /v1/cases?state=&kind=&outcome=&reason=&after=&limit=` lists cases a page at a time (no
applicant's values); `GET /v1/cases/{case_id}` reads one whole (its reading recorded);
`POST /v1/cases/{case_id}/claim` and `/release` assign it to the caller and back. Which keys
reach them is service.http.auth's (underwriters; auditors read).
"""

from __future__ import annotations

import dataclasses

from flask import Blueprint, Response, request

from service.dataplane import Dataplane
from service.decisions.case_book import QUEUE_PARAMETERS, queue
from service.endpoints.decisions import query_parameters
from service.http import caller
from service.http.json_io import json_response


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the case routes."""
    bp = Blueprint("cases", __name__, url_prefix="/v1/cases")

    @bp.get("")
    def listed() -> Response:
        """The cases a queue's parameters choose, in the order opened, a page at a time."""
        chosen = queue(query_parameters(request.args, QUEUE_PARAMETERS))
        asked = dataclasses.replace(chosen, limit=chosen.limit + 1)  # one more: is there a next?
        found = dataplane.casework_on(lambda book: book.queue(asked))
        shown = found[: chosen.limit]
        more = len(found) > chosen.limit
        return json_response({"cases": shown, "next": shown[-1]["case_id"] if more else None})

    @bp.get("/<case:case_id>")
    def case(case_id: int) -> Response:
        """One case whole: the applicant, the model's outputs and decision, its history."""
        reader = caller.current()
        return json_response(dataplane.casework_on(lambda book: book.read(case_id, reader)))

    @bp.post("/<case:case_id>/claim")
    def claim(case_id: int) -> Response:
        """Assign an open case to the caller."""
        underwriter = caller.current()
        return json_response(dataplane.casework_on(lambda book: book.claim(case_id, underwriter)))

    @bp.post("/<case:case_id>/release")
    def release(case_id: int) -> Response:
        """Put a case the caller holds back in the queue."""
        underwriter = caller.current()
        return json_response(dataplane.casework_on(lambda book: book.release(case_id, underwriter)))

    return bp
