"""`GET /v1/decisions/{request_id}`: the recorded decisions of one request, as stored;
`GET /v1/decisions?from=&to=&after=&limit=`: those of a time range, a page at a time."""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from werkzeug.datastructures import MultiDict

from service.dataplane import Dataplane
from service.decisions.listing import PARAMETERS, listing
from service.errors import InvalidInput
from service.http import caller
from service.http.json_io import json_response

_NAMED = 10  # unknown parameters named in a refusal, at most (each cut to 40 characters)
_UNSHOWN = re.compile(r"[^A-Za-z0-9_.\-\[\]]")  # characters of a name not repeated back


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the decision record routes (authenticated like predictions)."""
    bp = Blueprint("decisions", __name__, url_prefix="/v1/decisions")

    @bp.get("")
    def listed() -> Response:
        """The recorded decisions of a time range, oldest first, a page at a time."""
        given = query_parameters(request.args, PARAMETERS)
        chosen = listing(given.get("from"), given.get("to"), given.get("after"), given.get("limit"))
        found = dataplane.decisions_listed(chosen, caller.current())
        return json_response({"decisions": found.decisions, "next": found.next})

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


def query_parameters(args: MultiDict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """A listing's query parameters, each once: a misspelt one would silently widen the list."""
    unknown = [name for name in args if name not in known]
    if unknown:
        named = sorted({_UNSHOWN.sub("?", name[:40]) for name in unknown})[:_NAMED]
        raise InvalidInput(
            f"Unknown query parameters: {', '.join(named)} (known: {', '.join(known)})",
            {name: ["Unknown parameter."] for name in named},
        )
    repeated = sorted(name for name in args if len(args.getlist(name)) > 1)
    if repeated:
        raise InvalidInput(
            f"Query parameters given more than once: {', '.join(repeated)}",
            {name: ["Given more than once."] for name in repeated},
        )
    return {name: args[name] for name in args}
