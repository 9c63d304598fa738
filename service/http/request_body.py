"""Read a request body as JSON: declared as JSON (415), within the size limit (413), valid (400)."""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from service.http.errors import InvalidInput, UnsupportedMediaType
from service.http.json_io import JSON_MIMETYPE, decode_json


def is_json(mimetype: str) -> bool:
    """Accept application/json and structured-syntax JSON types (application/*+json)."""
    return mimetype == JSON_MIMETYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_json(request: Request) -> Any:
    """Return the parsed body; Flask's MAX_CONTENT_LENGTH turns an oversized body into 413."""
    return parse_json(read_body(request))


# JSON is UTF-8 (RFC 8259, which defines no charset parameter): UTF-8 and its ASCII subset pass.
ACCEPTED_CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")


def read_body(request: Request) -> bytes:
    """Return the body of a request declared as JSON (415 otherwise), within the size limit.

    The body must be plain UTF-8: a Content-Encoding (gzip, br, ...) or another charset is
    refused by name rather than scored as if it were plain JSON or called malformed.
    """
    declared = request.environ.get("CONTENT_TYPE", "")
    if declared != JSON_MIMETYPE:  # the usual one, unparsed; anything else is looked at
        if not is_json(request.mimetype):
            got = request.mimetype or "none"
            raise UnsupportedMediaType(
                f"Content-Type must be {JSON_MIMETYPE}, got {got}", {"content_type": got}
            )
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if charset not in ACCEPTED_CHARSETS:
            raise UnsupportedMediaType(
                f"JSON must be UTF-8, got charset={charset}", {"charset": charset}
            )
    refuse_encoded(request)
    body = request.get_data(cache=False)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(body) >= limit:
        # A chunked body has no Content-Length to refuse up front; werkzeug stops reading at
        # the limit without saying so, so a body that reached it is treated as too large.
        raise RequestEntityTooLarge()
    return body


def refuse_encoded(request: Request) -> None:
    """415 for a compressed body (gzip, br, ...): the service reads plain JSON only."""
    encoding = request.environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not accepted: send the JSON uncompressed",
            {"content_encoding": encoding},
        )


def parse_json(body: bytes) -> Any:
    """Decode a body strictly (400 saying where it is malformed)."""
    try:
        return decode_json(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"Malformed JSON in request body: {exc}", {"json": [str(exc)]}) from None
