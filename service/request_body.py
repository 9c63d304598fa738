"""Read a request body as JSON: declared as JSON (415), within the size limit (413), valid (400)."""

from __future__ import annotations

from typing import Any

from flask import Request

from service.errors import InvalidInput, UnsupportedMediaType
from service.json_io import JSON_MIMETYPE, decode_json


def is_json(mimetype: str) -> bool:
    """Accept application/json and structured-syntax JSON types (application/*+json)."""
    return mimetype == JSON_MIMETYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_json(request: Request) -> Any:
    """Return the parsed body; Flask's MAX_CONTENT_LENGTH turns an oversized body into 413."""
    if not is_json(request.mimetype):
        got = request.mimetype or "none"
        raise UnsupportedMediaType(
            f"Content-Type must be {JSON_MIMETYPE}, got {got}", {"content_type": got}
        )
    body = request.get_data(cache=False)
    try:
        return decode_json(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("Malformed JSON in request body", {"json": [str(exc)]}) from None
