"""JSON responses and request bodies, encoded and decoded strictly and fast."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

JSON_MIMETYPE = "application/json"
_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_response(payload: Any, status: int = 200) -> Response:
    """Serialise `payload` compactly (no key sorting: it costs time on large batches)."""
    return Response(_encoder.encode(payload), status=status, mimetype=JSON_MIMETYPE)


def _reject_constant(name: str) -> float:
    """Refuse NaN and Infinity, which Python's json module would otherwise accept."""
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: bytes) -> Any:
    """Parse a request body as strict JSON (RFC 8259: no NaN, no Infinity)."""
    return json.loads(body, parse_constant=_reject_constant)
