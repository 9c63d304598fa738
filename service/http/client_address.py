"""The client's address: the peer's, or, for requests the front (nginx) passed on, the one it
forwarded."""

from __future__ import annotations

from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix


class FromTheFront:
    """WSGI middleware: take the client's address from X-Forwarded-For only for requests that
    came through the front, over gunicorn's Unix socket (no peer address), which only nginx
    reaches and where nginx sets the header, replacing the client's. A TCP client's own
    X-Forwarded-For is ignored, so it cannot forge its address in the access log."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.proxied = ProxyFix(app, x_for=1, x_proto=1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REMOTE_ADDR"):
            return self.app(environ, start_response)
        return self.proxied(environ, start_response)
