"""Read a request body as JSON: declared as JSON (415), within the size limit (413), valid (400)."""

from __future__ import annotations

from typing import Any

from flask import Request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import RequestEntityTooLarge

from service.errors import InvalidInput, TooLarge, UnsupportedMediaType
from service.http.json_io import JSON_MIMETYPE, decode_json


def is_json(mimetype: str) -> bool:
    """Accept application/json and structured-syntax JSON types (application/*+json)."""
    return mimetype == JSON_MIMETYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def read_json(request: Request) -> Any:
    """Return the parsed body; Flask's MAX_CONTENT_LENGTH turns an oversized body into 413."""
    return parse_json(read_body(request))


# What a WSGI server raises while reading a body the client framed badly (werkzeug itself turns
# a connection closed mid-body into a 400 of its own).
BROKEN_FRAMING = (ParseException, OSError)
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
    body = read_raw(request)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(body) >= limit:
        # A chunked body has no Content-Length to refuse up front; werkzeug stops reading at
        # the limit without saying so, so a body that reached it is treated as too large.
        raise RequestEntityTooLarge()
    return body


def read_raw(request: Request) -> bytes:
    """The body's bytes, or 400 when the client's framing breaks (a malformed chunk size, a body
    cut short): what the WSGI server raises then is the client's fault, not a server error."""
    try:
        return request.get_data(cache=False)
    except BROKEN_FRAMING as exc:  # gunicorn's InvalidChunkSize, ChunkMissingTerminator, ...
        raise InvalidInput(
            "The request body could not be read: its framing is broken",
            {
                "body": [
                    f"{type(exc).__name__}: send a complete body, chunked or with a Content-Length"
                ]
            },
        ) from None


def refuse_excess_keys(body: bytes, limit: int) -> None:
    """413 for a body with more object keys than any valid request has, before it is parsed.

    Parsing a body of a million made-up keys takes a worker most of a second before any check
    could refuse it. Every key is followed by a colon, so the colons bound the keys from above
    (colons inside strings count too: the limit leaves room for them); counting them is a
    millisecond for the largest body accepted.
    """
    if body.count(b":") > limit:
        raise TooLarge(
            f"Too many JSON object keys: more than {limit:,}, the most a request of the record "
            "limit can hold",
            {"max_keys": limit},
        )


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
