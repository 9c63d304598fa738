"""API keys: when configured, every route but health, metrics and docs needs a bearer key.

Routes are protected unless listed as open (a new route is closed by default). The keys and
their checking are the protocols' (service.api_keys); this module asks for them over HTTP.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from service.api_keys import configured_keys
from service.http import caller
from service.http.errors import error_response
from service.settings import Settings

log = logging.getLogger(__name__)
REALM = "underwriting-model-service"
# Liveness, readiness, metrics and API descriptions stay reachable without a key.
OPEN_ENDPOINTS = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "metrics.scrape",
        "v2.server_metadata",
        "v2.live",
        "v2.ready",
        "v2.model_ready",
        "api_docs.openapi",
        "api_docs.docs",
        "api_docs.asset",
    }
)


def is_protected(endpoint: str | None) -> bool:
    """True if a matched route needs a key (unmatched requests get their 404/405 instead)."""
    return endpoint is not None and endpoint not in OPEN_ENDPOINTS


def install(app: Flask, settings: Settings) -> bool:
    """Require a key on protected routes if keys are configured; return whether they are."""
    keys = configured_keys(settings, announce=True)
    if keys is None:
        return False
    checker, readers = keys.checker, keys.readers
    caller.require_keys(app)

    @app.before_request
    def _authenticate() -> Response | None:
        if not is_protected(request.endpoint):
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        identity = checker.identify(token.strip()) if scheme.lower() == "bearer" else None
        if identity is not None:
            caller.authenticated(request.environ, identity, reads_all=identity in readers)
            return None
        return _challenge(bool(header))

    return True


def _challenge(presented: bool) -> Response:
    """401 in the error envelope, with the header RFC 6750 asks for."""
    if presented:
        message, challenge = "Invalid API key", f'Bearer realm="{REALM}", error="invalid_token"'
    else:
        message, challenge = "Missing API key", f'Bearer realm="{REALM}"'
    response = error_response(
        401, f"{message}: send 'Authorization: Bearer <key>'", {"authorization": [message + "."]}
    )
    response.headers["WWW-Authenticate"] = challenge
    return response
