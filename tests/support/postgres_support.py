"""A real PostgreSQL server for tests: initdb in a temporary directory, on a free loopback port.

PostgreSQL refuses to run as root, so under root (CI) the server runs as the `postgres` user the
Debian package creates. Missing binaries fail the test under CI and skip it elsewhere.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service_support import free_port
from tool_support import require_tool

HINT = "the Debian package postgresql (apt-get install postgresql)"


def _binary(name: str) -> str:
    """A PostgreSQL server binary: in Debian's versioned directory (off PATH), else as any tool."""
    versioned = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return versioned[0] if versioned else require_tool(name, HINT)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a throwaway PostgreSQL; yield its URL (database `postgres`, user `test`, trust)."""
    initdb, server = _binary("initdb"), _binary("postgres")
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = free_port()
    process = None
    try:
        subprocess.run(
            _as_server_user(
                [initdb, "-D", str(data), "-U", "test", "--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        with (root / "server.log").open("wb") as log:  # the server keeps its own descriptor
            process = subprocess.Popen(
                _as_server_user(
                    [
                        server,
                        "-D",
                        str(data),
                        "-p",
                        str(port),
                        "-k",
                        str(sockets),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "fsync=off",
                    ]
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"postgresql://test@127.0.0.1:{port}/postgres"
        _wait_accepting(url, process, root / "server.log")
        yield url
    finally:
        if process is not None:
            process.terminate()  # SIGTERM: a "smart" shutdown
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_accepting(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(f"postgres exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
