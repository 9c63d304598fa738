"""API keys: when configured, every route but health, metrics and docs needs a bearer key.

Routes are protected unless listed as open (a new route is closed by default). Keys are kept
only as sha256 digests and compared in constant time; a key is never logged or echoed. The
accepted key's id (a prefix of its digest, service.callers.key_id) goes with the request: the
decisions record it, and it says whose decisions the caller may read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable

from flask import Flask, Response, request

from service.callers import key_id
from service.http import caller
from service.http.errors import error_response
from service.settings import Settings, split_keys

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


def load_keys(settings: Settings) -> tuple[str, ...]:
    """Return the configured keys: SERVICE_API_KEYS plus those in SERVICE_API_KEYS_FILE."""
    keys = split_keys(settings.api_keys)
    if settings.api_keys_file is not None:
        keys += split_keys(settings.api_keys_file.read_text(encoding="utf-8"))
    return tuple(dict.fromkeys(keys))


class KeyChecker:
    """Accept a presented key if it equals one of the configured keys (constant time)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple((hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys)

    def identify(self, presented: str) -> str | None:
        """The presented key's id if it is a configured key, else None."""
        digest = hashlib.sha256(presented.encode()).digest()
        matched = None
        for known, identity in self._digests:  # no early exit: time does not say which matched
            if hmac.compare_digest(known, digest):
                matched = identity
        return matched

    def accepts(self, presented: str) -> bool:
        return self.identify(presented) is not None


def install(app: Flask, settings: Settings) -> bool:
    """Require a key on protected routes if keys are configured; return whether they are."""
    keys = load_keys(settings)
    if not keys and settings.decision_readers:
        log.warning(
            "SERVICE_DECISION_READERS is ignored: without API keys anyone reads every decision"
        )
    if not keys:
        log.warning(
            "no API keys configured (SERVICE_API_KEYS, SERVICE_API_KEYS_FILE): prediction and "
            "model metadata routes are open to anyone who can reach the service"
        )
        return False
    checker = KeyChecker(keys)
    caller.require_keys(app)
    readers = frozenset(split_keys(settings.decision_readers))
    ids = [key_id(key) for key in keys]
    log.info("API keys configured, by id: %s", ", ".join(ids))
    if unknown := sorted(readers - set(ids)):
        log.warning("SERVICE_DECISION_READERS names no configured key: %s", ", ".join(unknown))

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
