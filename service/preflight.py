"""What the launcher checks before it starts anything: the ports it listens on are free, the
directories it writes to are writable, nginx is there, the model repository holds a model.

Each problem is one sentence naming the setting to change. They are found before gunicorn forks
a worker or nginx starts, so a misconfigured instance stops in a second instead of after every
worker has loaded its models. Imported by the launcher: no Flask, no app, no model runtime.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contract.artifact import list_versions
from service.settings import Settings, nginx_binary

NO_NGINX = (
    "SERVICE_FRONT=nginx but nginx is not installed: install it (apt-get install nginx) "
    "or set SERVICE_FRONT=none to serve from gunicorn behind another buffering proxy"
)


@dataclass(frozen=True)
class Listener:
    """A TCP address the instance will listen on, and the setting that names its port."""

    setting: str
    host: str
    port: int
    # nginx listens on IPv6 addresses with ipv6only=on (its default); gunicorn leaves the
    # system's default, which on Linux also takes the IPv4 port.
    v6only: bool


def problems(settings: Settings, gunicorn_args: list[str]) -> list[str]:
    """Every reason the instance cannot start, one line each (empty: it can)."""
    found = [
        _front(settings),
        _distinct_ports(settings),
        *(_port(listener) for listener in listeners(settings, gunicorn_args)),
        _runtime_dir(settings),
        _decisions(settings),
        _models(settings.models_dir, "SERVICE_MODELS_DIR"),
        _models(settings.shadow_models_dir, "SERVICE_SHADOW_MODELS_DIR"),
        _metrics_dir(os.environ.get("PROMETHEUS_MULTIPROC_DIR")),
    ]
    return [problem for problem in found if problem]


def listeners(settings: Settings, gunicorn_args: list[str]) -> list[Listener]:
    """The TCP addresses the launcher listens on: nginx's, or gunicorn's without a front
    (none when gunicorn's own arguments bind it elsewhere: they override the settings)."""
    host = settings.host or "0.0.0.0"
    # The workers' gRPC servers: grpc binds as gunicorn does (v6only left to the system).
    grpc = [Listener("SERVICE_GRPC_PORT", host, settings.grpc_port, False)] * bool(
        settings.grpc_port
    )
    if settings.front == "nginx":
        return [Listener("SERVICE_PORT", host, settings.port, v6only=True), *grpc]
    arguments = [*gunicorn_args, *os.environ.get("GUNICORN_CMD_ARGS", "").split()]
    if any(binds(arg) for arg in arguments):
        return grpc
    return [Listener("SERVICE_PORT", host, settings.port, v6only=False), *grpc]


def _distinct_ports(settings: Settings) -> str | None:
    if settings.grpc_port == settings.port:
        return (
            f"SERVICE_GRPC_PORT={settings.grpc_port} is SERVICE_PORT too: give gRPC a port of "
            "its own, or 0 to serve no gRPC"
        )
    return None


def binds(argument: str) -> bool:
    """Whether a gunicorn argument sets a bind address (-b, -bADDR, --bind and its prefixes)."""
    name = argument.split("=", 1)[0]
    return argument.startswith("-b") or (len(name) >= 4 and "--bind".startswith(name))


def _front(settings: Settings) -> str | None:
    return NO_NGINX if settings.front == "nginx" and nginx_binary() is None else None


def _port(listener: Listener) -> str | None:
    """Why the listener's address cannot be listened on, found by listening on it briefly."""
    host, port, setting = listener.host, listener.port, listener.setting
    try:
        addresses = _addresses(listener)
    except socket.gaierror as exc:
        return (
            f"SERVICE_HOST={host} does not resolve ({exc.strerror}); set SERVICE_HOST to an "
            "address or host name of this host"
        )
    for family, address in addresses:
        try:
            _listen_once(family, address, listener.v6only)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"{setting}={port} is in use by another process (on {host}); set {setting} "
                    "to a free port"
                )
            if exc.errno == errno.EACCES:
                return (
                    f"{setting}={port} is a privileged port this user may not listen on; set "
                    f"{setting} to 1024 or above"
                )
            if exc.errno == errno.EADDRNOTAVAIL:
                return (
                    f"SERVICE_HOST={host} is not an address of this host; set SERVICE_HOST "
                    "to one of its addresses, or 0.0.0.0 for all"
                )
            return f"cannot listen on SERVICE_HOST={host} {setting}={port}: {exc.strerror}"
    return None


def _addresses(listener: Listener) -> list[tuple[int, tuple[str, int]]]:
    """The socket addresses the host names: every one for nginx (it binds them all), the IPv4
    one for gunicorn unless the host is an IPv6 literal (as gunicorn chooses)."""
    found = socket.getaddrinfo(
        listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    if not listener.v6only:
        wanted = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
        found = [entry for entry in found if entry[0] == wanted] or found[:1]
    unique = {(int(entry[0]), (str(entry[4][0]), int(entry[4][1]))) for entry in found}
    return sorted(unique)


def _listen_once(family: int, address: tuple[str, int], v6only: bool) -> None:
    """Bind and listen as nginx and gunicorn will, then let go.

    SO_REUSEADDR as they set it: a port whose last connections linger in TIME_WAIT (a restart)
    is free to them, so it is free here; a port another socket listens on is not.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and v6only:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(address)
        probe.listen()


def _runtime_dir(settings: Settings) -> str | None:
    """Where the front makes its private directory must take one."""
    if settings.front != "nginx":
        return None
    if settings.runtime_dir is not None:
        why = unwritable(settings.runtime_dir)
        if why is None:
            return None
        return (
            f"SERVICE_RUNTIME_DIR={settings.runtime_dir} is not writable ({why}); set "
            "SERVICE_RUNTIME_DIR to a writable directory"
        )
    try:
        temporary = Path(tempfile.gettempdir())
    except FileNotFoundError:  # no usable temporary directory at all
        return "no writable temporary directory; set SERVICE_RUNTIME_DIR to a writable directory"
    why = unwritable(temporary)
    if why is None:
        return None
    return (
        f"the temporary directory {temporary} is not writable ({why}); set SERVICE_RUNTIME_DIR "
        "to a writable directory"
    )


def _decisions(settings: Settings) -> str | None:
    """The SQLite decision records: their directory takes the database and its WAL files."""
    if settings.decisions_database_url:
        return None  # PostgreSQL: the workers connect, and /readyz says if they cannot
    path = settings.decisions_path()
    why = unwritable(path.parent)
    if why is None and path.exists():
        why = _unopenable(path)
    if why is None:
        return None
    named = "SERVICE_DECISIONS_DATABASE"
    where = f"{named}={path}" if settings.decisions_database else f"{path} ({named} unset)"
    return (
        f"the decision records cannot be written at {where}: {why}; set {named} to a file in a "
        "writable directory, or SERVICE_DECISIONS_DATABASE_URL to a PostgreSQL database"
    )


def _models(directory: Path | None, setting: str) -> str | None:
    """A model repository must hold at least one complete model version."""
    if directory is None:
        return None
    publish = f"python -m training --models-dir {directory}"
    if not directory.exists():
        return (
            f"{setting}={directory} does not exist; train models into it ({publish}) or set "
            f"{setting} to a model repository"
        )
    try:
        held = any(list_versions(child) for child in _children(directory))
    except OSError as exc:
        return (
            f"{setting}={directory} cannot be read ({exc.strerror}); set {setting} to a model "
            "repository"
        )
    if held:
        return None
    return (
        f"{setting}={directory} holds no model version (<model>/<version>/metadata.json); "
        f"train models into it ({publish}) or set {setting} to a model repository"
    )


def _children(directory: Path) -> Iterator[Path]:
    if not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory")
    return (child for child in directory.iterdir() if child.is_dir())


def _metrics_dir(directory: str | None) -> str | None:
    """prometheus_client's multiprocess files: gunicorn empties and fills this directory."""
    if not directory:
        return None
    why = unwritable(Path(directory))
    if why is None:
        return None
    return (
        f"PROMETHEUS_MULTIPROC_DIR={directory} is not writable ({why}); set it to a writable "
        "directory, or unset it for a private one"
    )


def unwritable(directory: Path) -> str | None:
    """Why no file can be made in `directory`, or in the nearest parent that exists (where it
    would be made); None when one can. Found by making one: permissions, a read-only mount,
    an immutable directory and a full disk all show."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:
        handle, name = tempfile.mkstemp(prefix=".underwriting-check-", dir=existing)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(handle)
    os.unlink(name)
    return None


def _unopenable(path: Path) -> str | None:
    """Why an existing file cannot be opened for writing (nothing is written)."""
    try:
        with path.open("r+b"):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)
