"""GET /openapi.json: the API document, rebuilt only when the served model versions change."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app

from service.json_io import JSON_MIMETYPE
from service.model_store import ModelStore
from service.openapi import build
from service.settings import Settings


def create_blueprint(store: ModelStore, settings: Settings, auth: bool) -> Blueprint:
    """Return the /openapi.json route; `auth` says whether API keys are required."""
    bp = Blueprint("api_docs", __name__)
    cache: dict[Any, bytes] = {}  # one entry: the document of the current snapshot

    @bp.get("/openapi.json")
    def openapi() -> Response:
        """Describe every route in OpenAPI 3, with the served models' request schemas."""
        serving = store.serving()
        key = tuple((name, tuple(s.versions.items())) for name, s in serving.items())
        body = cache.get(key)
        if body is None:
            document = build(current_app, serving, settings, auth)
            body = json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
            cache.clear()
            cache[key] = body
        return Response(body, mimetype=JSON_MIMETYPE)

    return bp
