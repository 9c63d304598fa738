"""Start nginx in front of gunicorn, watch both, and stop them in the order that loses nothing.

On SIGTERM: /readyz turns 503 (the drain marker), the instance keeps serving for
SERVICE_DRAIN_SECONDS so load balancers stop routing to it and requests already sent arrive (a
request in the air on a kept-alive connection when nginx stops would be lost), then nginx stops
accepting and finishes every request it holds (gunicorn still answers them), and only then does
gunicorn stop. SIGINT (Ctrl-C) skips the drain.
If either process dies on its own, the other is stopped and the launcher exits non-zero, so the
container restarts whole. SIGHUP is passed to both (nginx re-reads its configuration, gunicorn
replaces its workers).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from service.front import config
from service.settings import Settings, nginx_binary

log = logging.getLogger("service.front")

WATCHED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
PR_SET_PDEATHSIG = 1
SOCKET_WAIT_SECONDS = 60.0


class FrontError(RuntimeError):
    """The front cannot start: nginx missing, or its configuration refused."""


def run(settings: Settings, gunicorn_command: list[str]) -> int:
    """Run the front and gunicorn until told to stop; return the exit status for the launcher."""
    nginx = nginx_binary()
    if nginx is None:
        raise FrontError(
            "SERVICE_FRONT=nginx but nginx is not installed: install it (apt-get install nginx) "
            "or set SERVICE_FRONT=none to serve from gunicorn behind another buffering proxy"
        )
    owned = not settings.runtime_dir
    runtime_dir = Path(settings.runtime_dir or tempfile.mkdtemp(prefix="underwriting-front-"))
    layout = config.FrontLayout(runtime_dir.absolute())
    try:
        return _run(settings, gunicorn_command, [str(nginx), *_nginx_args(layout)], layout)
    finally:
        if owned:
            shutil.rmtree(runtime_dir, ignore_errors=True)


def _nginx_args(layout: config.FrontLayout) -> list[str]:
    return ["-p", str(layout.runtime_dir), "-c", str(layout.config), "-e", "stderr"]


def _run(
    settings: Settings, gunicorn_command: list[str], nginx: list[str], layout: config.FrontLayout
) -> int:
    config.write(settings, layout)
    checked = subprocess.run([*nginx, "-t", "-q"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise FrontError(f"nginx refused its configuration: {checked.stderr.strip()}")
    (drain_marker := layout.runtime_dir / "draining").unlink(missing_ok=True)
    layout.socket.unlink(missing_ok=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    env = {"SERVICE_RUNTIME_DIR": str(layout.runtime_dir)}
    gunicorn = _start([*gunicorn_command, "--bind", layout.gunicorn_bind], signal.SIGTERM, env)
    front: subprocess.Popen[bytes] | None = None
    try:
        if not _wait_for_socket(layout.socket, gunicorn):
            log.error("gunicorn exited before it listened (status %s)", gunicorn.returncode)
            return gunicorn.returncode or 1
        front = _start(nginx, signal.SIGQUIT)
        log.info("serving on %s:%s through nginx", settings.host, settings.port)
        while True:
            received = signal.sigtimedwait(WATCHED, 1.0)
            died = _first_exited(gunicorn, front)
            if died is not None:
                log.error("%s exited unexpectedly (status %s); stopping", died, _status(died,
                          gunicorn, front))  # fmt: skip
                return 1
            if received is None or received.si_signo == signal.SIGCHLD:
                continue
            if received.si_signo == signal.SIGHUP:
                gunicorn.send_signal(signal.SIGHUP)
                front.send_signal(signal.SIGHUP)
                continue
            if received.si_signo == signal.SIGTERM:
                _drain(settings, drain_marker)
            return 0 if _stop(front, gunicorn, settings) else 1
    finally:
        _stop(front, gunicorn, settings)
        drain_marker.unlink(missing_ok=True)


def _drain(settings: Settings, marker: Path) -> None:
    """Answer /readyz with 503 while still serving, for SERVICE_DRAIN_SECONDS."""
    marker.touch()
    if settings.drain_seconds:
        log.info("draining: not ready, still serving for %s s", settings.drain_seconds)
        time.sleep(settings.drain_seconds)


def _stop(
    front: subprocess.Popen[bytes] | None, gunicorn: subprocess.Popen[bytes], settings: Settings
) -> bool:
    """nginx first (it finishes what it holds, gunicorn still answering), then gunicorn.

    True when both stopped cleanly within their graceful time."""
    clean = True
    if front is not None:
        # nginx may wait for a slow client's body, then for a worker's answer.
        patience = settings.client_timeout_seconds + settings.worker_timeout_seconds
        clean &= _terminate(front, signal.SIGQUIT, patience + settings.graceful_timeout_seconds)
    clean &= _terminate(gunicorn, signal.SIGTERM, settings.graceful_timeout_seconds + 5)
    return clean


def _terminate(process: subprocess.Popen[bytes], how: signal.Signals, patience: float) -> bool:
    """Ask a child to stop gracefully; kill it after `patience` seconds. True if it stopped
    by itself with status 0."""
    if process.poll() is None:
        process.send_signal(how)
        try:
            process.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            log.error("process %s did not stop within %s s; killed", process.pid, patience)
            process.kill()
            process.wait()
            return False
    return process.returncode == 0


def _start(
    command: list[str], on_parent_death: signal.Signals, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a child with the launcher's signals unblocked, stopped if the launcher dies."""
    return subprocess.Popen(
        command, env=os.environ | (env or {}), preexec_fn=_child_setup(on_parent_death)
    )


def _child_setup(on_parent_death: signal.Signals) -> Callable[[], None]:
    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        try:  # Linux: the child hears `on_parent_death` if the launcher is killed outright
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(on_parent_death))
        except (OSError, AttributeError):
            pass

    return setup


def _wait_for_socket(socket: Path, gunicorn: subprocess.Popen[bytes]) -> bool:
    """Wait until gunicorn listens on its socket; False if it exits first."""
    deadline = time.monotonic() + SOCKET_WAIT_SECONDS
    while not socket.exists():
        if gunicorn.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _first_exited(gunicorn: subprocess.Popen[bytes], front: subprocess.Popen[bytes]) -> str | None:
    if gunicorn.poll() is not None:
        return "gunicorn"
    if front.poll() is not None:
        return "nginx"
    return None


def _status(name: str, gunicorn: subprocess.Popen[bytes], front: subprocess.Popen[bytes]) -> int:
    return (gunicorn if name == "gunicorn" else front).returncode
