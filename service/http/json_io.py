"""JSON responses and request bodies, encoded and decoded strictly and fast."""

from __future__ import annotations

import json
from collections import Counter
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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse an object that names a key twice: json would silently keep the last value."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        repeated = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"key {repeated!r} appears more than once in one object")
    return obj


def decode_json(body: bytes) -> Any:
    """Parse a request body as strict JSON: no NaN, no Infinity, no repeated keys."""
    return json.loads(body, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
