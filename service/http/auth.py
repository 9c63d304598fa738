"""API keys: when configured, every route but health, metrics and docs needs a bearer key.

Routes are protected unless listed as open (a new route is closed by default). The keys and
their checking are the protocols' (service.api_keys); this module asks for them over HTTP.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from service.api_keys import AUDITOR, CLIENT, ROLES, UNDERWRITER, configured_keys
from service.http import caller
from service.http.errors import error_response
from service.settings import Settings

log = logging.getLogger(__name__)
REALM = "underwriting-model-service"
CASES = "cases"  # the underwriters' routes' blueprint
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


def allowed_roles(endpoint: str, method: str) -> frozenset[str]:
    """The key roles that may call a route: closed to the others (and to new roles)."""
    blueprint = endpoint.partition(".")[0]
    reading = method in ("GET", "HEAD", "OPTIONS")
    if blueprint == CASES:  # applicants' personal data: underwriters work it, auditors read it
        return frozenset({UNDERWRITER, AUDITOR} if reading else {UNDERWRITER})
    if blueprint == "decisions":
        return frozenset({CLIENT, AUDITOR})
    if reading:  # model metadata, status and cards
        return frozenset(ROLES)
    return frozenset({CLIENT})  # predictions and explanations


def install(app: Flask, settings: Settings) -> bool:
    """Require a key on protected routes if keys are configured; return whether they are.

    Each key's role chooses the routes it reaches (allowed_roles). Without keys the case
    routes serve no one: a case holds an applicant's personal data, and its reads are
    recorded by who read it.
    """
    keys = configured_keys(settings, announce=True)
    if keys is None:
        app.before_request(_no_cases_without_keys)
        return False
    checker = keys.checker
    caller.require_keys(app)

    @app.before_request
    def _authenticate() -> Response | None:
        if not is_protected(request.endpoint):
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        identity = checker.identify(token.strip()) if scheme.lower() == "bearer" else None
        if identity is None:
            return _challenge(bool(header))
        holder = keys.holder(identity)
        allowed = allowed_roles(request.endpoint or "", request.method)
        if holder.role not in allowed:
            return _forbidden(holder.shown, holder.role, allowed)
        caller.authenticated(request.environ, identity, keys.reads_all(identity), holder.name)
        return None

    return True


def _no_cases_without_keys() -> Response | None:
    if (request.endpoint or "").partition(".")[0] != CASES:
        return None
    message = (
        "Cases hold applicants' personal data: they are served only to underwriter and auditor "
        "API keys (SERVICE_API_KEYS and SERVICE_API_KEY_ROLES)"
    )
    return error_response(403, message, {"authorization": ["No API keys are configured."]})


def _forbidden(holder: str, role: str, allowed: frozenset[str]) -> Response:
    """403: the key is valid, but its role does not reach the route."""
    roles = " or ".join(sorted(allowed))
    return error_response(
        403,
        f"API key {holder!r} has the role {role!r}: this route is for {roles} keys",
        {"authorization": [f"The {role} role does not reach this route."]},
    )


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
