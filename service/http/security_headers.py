"""Security headers on every response: nothing is sniffed, framed, cached or loaded from afar.

The API answers JSON that no browser should run, frame or keep: its policy allows nothing. The
one HTML page, /docs, loads Swagger UI's script, styles and the API document from the service
itself, so its policy allows exactly that ('self'); its start-up code is a served file, not an
inline script, so no 'unsafe-inline' script is needed.
"""

from __future__ import annotations

from flask import Flask, Response, request

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI sets inline style attributes and uses data: images for its icons.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
DOCS_PAGE_ENDPOINT = "api_docs.docs"
STATIC = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


# All of them at once, for a response that sets none of them itself (nearly every one).
API_HEADERS = [
    *STATIC.items(),
    ("Content-Security-Policy", API_POLICY),
    ("Cache-Control", "no-store"),
]
DOCS_HEADERS = [*API_HEADERS[:-2], ("Content-Security-Policy", DOCS_POLICY), API_HEADERS[-1]]
_NAMES = frozenset(name.lower() for name, _ in API_HEADERS)


def install(app: Flask) -> None:
    """Add the headers after every response, errors included."""

    @app.after_request
    def _secure(response: Response) -> Response:
        headers = response.headers
        page = request.endpoint == DOCS_PAGE_ENDPOINT
        if not any(name.lower() in _NAMES for name, _ in headers.items()):
            headers.extend(DOCS_HEADERS if page else API_HEADERS)  # one pass, no lookups
            return response
        for name, value in STATIC.items():
            headers.setdefault(name, value)
        headers.setdefault("Content-Security-Policy", DOCS_POLICY if page else API_POLICY)
        if not response.cache_control.max_age:  # Swagger UI's assets may be kept for a day
            response.cache_control.no_store = True
        return response
