"""Render nginx's configuration for one instance from the template beside this module."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from service.settings import Settings

CONFIG_DIR = Path(__file__).resolve().parent
TEMPLATE = CONFIG_DIR / "nginx.conf.template"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# nginx waits for a worker's answer a little longer than gunicorn lets a worker run: a request
# gunicorn kills at its timeout ends in nginx as a closed connection, not as nginx's timeout.
UPSTREAM_GRACE_SECONDS = 5
# nginx logs every client that misbehaves at "info": that is debugging detail for the service.
NGINX_LOG_LEVELS = {"debug": "info", "info": "warn", "warning": "warn", "error": "error"}
# The outer server's timeouts exceed the inner server's by this much: the inner one gives up on
# a body (the outer then answers 408) or answers first.
OUTER_GRACE_SECONDS = 5


@dataclass(frozen=True)
class FrontLayout:
    """Where one instance's front keeps its files: the rendered configuration, nginx's pid and
    temporary files, and the Unix socket gunicorn listens on."""

    runtime_dir: Path

    @property
    def config(self) -> Path:
        return self.runtime_dir / "nginx.conf"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "gunicorn.sock"

    @property
    def inner_socket(self) -> Path:
        """Where nginx's inner server listens (the second hop: see nginx.conf.template)."""
        return self.runtime_dir / "front.sock"

    @property
    def gunicorn_bind(self) -> str:
        return f"unix:{self.socket}"


def render(settings: Settings, layout: FrontLayout, template: str | None = None) -> str:
    """The configuration text: every placeholder filled, or KeyError naming the unknown one."""
    upstream_timeout = settings.worker_timeout_seconds + UPSTREAM_GRACE_SECONDS
    retry = retry_window(settings.worker_timeout_seconds)
    values = {
        "runtime_dir": str(layout.runtime_dir),
        "config_dir": str(CONFIG_DIR),
        "socket": str(layout.socket),
        "inner_socket": str(layout.inner_socket),
        "inner_socket_name": re.escape(layout.inner_socket.name),
        "listen": _listen(settings.host, settings.port),
        "client_timeout": str(settings.client_timeout_seconds),
        "outer_body_timeout": str(settings.client_timeout_seconds + OUTER_GRACE_SECONDS),
        "upstream_timeout": str(upstream_timeout),
        # The inner server may wait for a worker twice (a retry) and connect twice.
        "outer_upstream_timeout": str(2 * upstream_timeout + retry + OUTER_GRACE_SECONDS),
        "max_body_bytes": str(settings.max_body_bytes),
        "error_log_level": NGINX_LOG_LEVELS[settings.log_level],
        # A body that stops arriving is the client's doing: logged only when debugging.
        "error_log_level_hop": "info" if settings.log_level == "debug" else "crit",
        # 0 would mean no limit to nginx; the launcher waits the graceful timeout and a margin.
        "shutdown_timeout": str(max(1, settings.graceful_timeout_seconds)),
        "retry_window": str(retry),
    }
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def retry_window(worker_timeout: int) -> int:
    """Seconds within which a request whose worker died is sent again: at most 5, and less
    than gunicorn's worker timeout (a request it killed there must not run twice)."""
    return max(1, min(5, worker_timeout - 1))


def write(settings: Settings, layout: FrontLayout) -> Path:
    """Write the rendered configuration into the (new, private) runtime directory.

    nginx creates its temporary directories itself, owned by its worker processes' user (nobody
    when the service runs as root); the runtime directory lets them through (0711) to those and
    to gunicorn's socket, and lists nothing.
    """
    layout.runtime_dir.chmod(0o711)
    layout.config.write_text(render(settings, layout), encoding="utf-8")
    return layout.config


def _listen(host: str, port: int) -> str:
    """nginx's listen address: IPv6 literals in brackets; 0.0.0.0 as a bare port (all IPv4)."""
    if host in ("0.0.0.0", ""):
        return str(port)
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"
