"""Start nginx in front of gunicorn, watch both, and stop them in the order that loses nothing.

On SIGTERM: /readyz turns 503 (the drain marker), the instance keeps serving for
SERVICE_DRAIN_SECONDS so load balancers stop routing to it and requests already sent arrive (a
request in the air on a kept-alive connection when nginx stops would be lost), then nginx stops
accepting and finishes the requests it holds (gunicorn still answers them; each gets up to the
graceful timeout), and only then does gunicorn stop. SIGINT (Ctrl-C) skips the drain; a second
signal ends a drain early. Both
children run in sessions of their own, so a terminal's Ctrl-C reaches only this process, which
stops them in order. If either dies on its own, the other is stopped and the launcher exits 1,
so the container restarts whole. SIGHUP is passed to both (nginx re-reads its configuration,
gunicorn replaces its workers).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from service.front import config, nginx_log
from service.observability.native_output import start_relay
from service.preflight import NO_NGINX, binds
from service.settings import Settings, nginx_binary

log = logging.getLogger("service.front")

WATCHED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
STOPPING = (signal.SIGTERM, signal.SIGINT)
PR_SET_PDEATHSIG = 1
SOCKET_WAIT_SECONDS = 60.0
UNIX_PATH_MAX = 108  # Linux's sun_path, its terminating NUL included
# Beyond the graceful timeout, what a child gets to exit before it is killed.
EXIT_MARGIN_SECONDS = 5
RELAY_SECONDS = 2.0  # for the last lines of nginx's error log once it has exited


class FrontError(RuntimeError):
    """The front cannot start: nginx missing, its configuration refused, a bad argument."""


def run(settings: Settings, gunicorn_command: list[str]) -> int:
    """Run the front and gunicorn until told to stop; return the exit status for the launcher."""
    nginx = nginx_binary()
    if nginx is None:
        raise FrontError(NO_NGINX)
    arguments = [*gunicorn_command, *os.environ.get("GUNICORN_CMD_ARGS", "").split()]
    if any(binds(arg) for arg in arguments):
        raise FrontError(
            "--bind would let clients reach gunicorn past the front: set SERVICE_HOST and "
            "SERVICE_PORT (nginx listens there), or SERVICE_FRONT=none"
        )
    # Blocked from the start: a SIGTERM while nginx's configuration is checked waits its turn.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    runtime_dir: Path | None = None
    try:
        runtime_dir = _private_directory(settings.runtime_dir)
        layout = config.FrontLayout(runtime_dir)
        return _run(settings, gunicorn_command, [str(nginx), *_nginx_args(layout)], layout)
    finally:
        if runtime_dir is not None:
            shutil.rmtree(runtime_dir, ignore_errors=True)
        while signal.sigtimedwait(WATCHED, 0) is not None:
            pass  # heard while stopping: the stop is done, they must not fire on unblocking
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _private_directory(parent: Path | None) -> Path:
    """A new directory of the front's own, inside `parent` when set: nothing else is touched."""
    try:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        made = tempfile.mkdtemp(prefix="underwriting-front-", dir=parent)
    except OSError as exc:
        raise FrontError(
            f"cannot make the front's directory in SERVICE_RUNTIME_DIR: {exc}"
        ) from None
    return Path(made).absolute()


def _nginx_args(layout: config.FrontLayout) -> list[str]:
    return ["-p", str(layout.runtime_dir), "-c", str(layout.config), "-e", "stderr"]


def _run(
    settings: Settings, gunicorn_command: list[str], nginx: list[str], layout: config.FrontLayout
) -> int:
    for socket in (layout.socket, layout.inner_socket):
        if len(os.fsencode(socket)) >= UNIX_PATH_MAX:
            raise FrontError(
                f"SERVICE_RUNTIME_DIR is too deep for a Unix socket ({socket} is over "
                f"{UNIX_PATH_MAX - 1} bytes): name a shorter directory"
            )
    config.write(settings, layout)
    checked = subprocess.run([*nginx, "-t", "-q"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise FrontError(f"nginx refused its configuration: {checked.stderr.strip()}")
    drain_marker = layout.runtime_dir / "draining"
    env = {"SERVICE_RUNTIME_DIR": str(layout.runtime_dir)}
    gunicorn = _start([*gunicorn_command, "--bind", layout.gunicorn_bind], signal.SIGTERM, env)
    front: subprocess.Popen[bytes] | None = None
    relay: threading.Thread | None = None
    try:
        if not _wait_for_socket(layout.socket, gunicorn):
            if gunicorn.poll() is None:
                log.error("gunicorn did not listen within %s s; stopping", SOCKET_WAIT_SECONDS)
                return 1
            log.error("gunicorn exited before it listened (status %s)", gunicorn.returncode)
            return gunicorn.returncode or 1
        read, write = os.pipe()  # nginx's error log, in its format: logged as JSON lines
        try:
            front = _start(nginx, signal.SIGQUIT, stderr=write)
        finally:
            os.close(write)
            relay = start_relay(read, nginx_log.emit, "nginx-log")
        log.info(
            "gunicorn on %s; nginx starting on %s:%s", layout.socket, settings.host, settings.port
        )
        while True:
            received = signal.sigtimedwait(WATCHED, 1.0)
            died = next((p for p in (gunicorn, front) if _exited(p)), None)
            if died is not None:
                which = "gunicorn" if died is gunicorn else "nginx"
                log.error("%s exited unexpectedly; stopping", which)
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
        if relay is not None:
            relay.join(RELAY_SECONDS)  # nginx's last lines, logged before the launcher exits


def _drain(settings: Settings, marker: Path) -> None:
    """Answer /readyz with 503 while still serving, for SERVICE_DRAIN_SECONDS (a second
    SIGTERM or SIGINT ends it early)."""
    marker.touch()
    log.info("draining: not ready, still serving for %s s", settings.drain_seconds)
    deadline = time.monotonic() + settings.drain_seconds
    while (left := deadline - time.monotonic()) > 0:
        received = signal.sigtimedwait(WATCHED, left)
        if received is not None and received.si_signo in STOPPING:
            return


def _stop(
    front: subprocess.Popen[bytes] | None, gunicorn: subprocess.Popen[bytes], settings: Settings
) -> bool:
    """nginx first (it finishes what it holds, gunicorn still answering), then gunicorn.

    True when both stopped cleanly within their graceful time."""
    patience = settings.graceful_timeout_seconds + EXIT_MARGIN_SECONDS
    clean = True
    if front is not None:  # nginx's worker_shutdown_timeout is the graceful timeout
        clean &= _terminate(front, signal.SIGQUIT, patience)
    return _terminate(gunicorn, signal.SIGTERM, patience) and clean


def _terminate(process: subprocess.Popen[bytes], how: signal.Signals, patience: float) -> bool:
    """Ask a child to stop gracefully; kill its whole session after `patience` seconds (an
    nginx master killed outright would leave its workers serving). True if it stopped by
    itself with status 0. A child already reaped was stopped before: nothing to do."""
    if process.returncode is not None:
        return process.returncode == 0
    stopped_by_itself = True
    if not _exited(process):
        process.send_signal(how)
        deadline = time.monotonic() + patience
        while not _exited(process):
            if time.monotonic() > deadline:
                log.error("process %s did not stop within %s s; killed", process.pid, patience)
                stopped_by_itself = False
                break
            time.sleep(0.05)
    # Not yet reaped, the child still holds its process group id: no other group can have it.
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its session
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    return stopped_by_itself and process.returncode == 0


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether a child has exited, without reaping it (its pid and group id stay reserved)."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _start(
    command: list[str],
    on_parent_death: signal.Signals,
    env: dict[str, str] | None = None,
    stderr: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in a session of its own, with the launcher's signals unblocked, told
    `on_parent_death` if the launcher is killed outright."""
    return subprocess.Popen(
        command,
        env=os.environ | (env or {}),
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_child_setup(on_parent_death),
    )


def _child_setup(on_parent_death: signal.Signals) -> Callable[[], None]:
    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        try:  # Linux only; elsewhere a killed launcher leaves its children to the init process
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(on_parent_death))
        except (OSError, AttributeError):
            pass

    return setup


def _wait_for_socket(socket: Path, gunicorn: subprocess.Popen[bytes]) -> bool:
    """Wait until gunicorn listens on its socket; False if it exits first or takes too long."""
    deadline = time.monotonic() + SOCKET_WAIT_SECONDS
    while not socket.exists():
        if gunicorn.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
