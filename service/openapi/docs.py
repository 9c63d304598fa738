"""The API document (GET /openapi.json) and a page rendering it (GET /docs), served offline.

The document is rebuilt only when the served model versions change. The page is Swagger UI from
the swagger-ui-bundle package: its two assets are served from here, nothing from a CDN.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app
from swagger_ui_bundle import swagger_ui_path

from policy.document import Policy
from service.errors import NotFound
from service.http.json_io import JSON_MIMETYPE
from service.inference.servable import Servable
from service.openapi.document import SWAGGER_ASSETS, build
from service.repository.store import ModelStore
from service.settings import Settings

# Relative links, so that the page also works behind a path prefix.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Underwriting model service API</title>
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/swagger-init.js"></script>
</body>
</html>
"""
# The page's start-up code, served as a file: the page's Content-Security-Policy allows no
# inline script (service.http.security_headers).
INIT_SCRIPT = b'window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui"});\n'
OWN_ASSETS = {"swagger-init.js": INIT_SCRIPT}


def create_blueprint(
    store: ModelStore[Servable | Policy], settings: Settings, auth: bool
) -> Blueprint:
    """Return the /openapi.json and /docs routes; `auth` says whether API keys are required."""
    bp = Blueprint("api_docs", __name__)
    documents: dict[Any, bytes] = {}  # one entry: the document of the current snapshot

    @bp.get("/openapi.json")
    def openapi() -> Response:
        """Describe every route in OpenAPI 3, with the served models' request schemas."""
        serving = {n: s for n, s in store.serving().items() if isinstance(s, Servable)}
        key = tuple((name, tuple(s.versions.items())) for name, s in serving.items())
        body = documents.get(key)
        if body is None:
            document = build(current_app, serving, settings, auth)
            body = json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
            documents.clear()
            documents[key] = body
        return Response(body, mimetype=JSON_MIMETYPE)

    @bp.get("/docs")
    def docs() -> Response:
        """Render the API document with Swagger UI (assets served locally)."""
        return Response(PAGE, mimetype="text/html")

    @bp.get("/docs/<asset>")
    def asset(asset: str) -> Response:
        """Serve one of Swagger UI's assets."""
        if asset not in SWAGGER_ASSETS:
            raise NotFound(f"No asset {asset!r}", {"assets": list(SWAGGER_ASSETS)})
        response = Response(_read_asset(asset), mimetype=SWAGGER_ASSETS[asset])
        response.cache_control.max_age = 86400
        return response

    return bp


@cache
def _read_asset(name: str) -> bytes:
    """Read an asset once per worker (about 1 MB), only if the page is ever used."""
    if name in OWN_ASSETS:
        return OWN_ASSETS[name]
    return (swagger_ui_path / name).read_bytes()
