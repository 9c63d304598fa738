"""The front under real nginx: its configuration checked by `nginx -t`, and the launcher run with
a stand-in upstream (a tiny WSGI app under real gunicorn) so that its start, its failures and
its ordered stop are seen without TensorFlow or models.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from paths import REPO
from service_support import children, free_port
from tool_support import require_nginx

from service.front import config
from service.settings import Settings


def test_every_placeholder_is_filled_and_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = require_nginx()
    layout = config.FrontLayout(tmp_path / "run")
    layout.runtime_dir.mkdir()
    settings = Settings(port=18123, host="127.0.0.1", max_body_bytes=4096, client_timeout_seconds=7)
    written = config.write(settings, layout)
    text = written.read_text()
    assert re.search(r"\{\{\w+\}\}", text) is None  # every placeholder filled
    assert "listen 127.0.0.1:18123 backlog=4096;" in text
    assert "client_max_body_size 4096;" in text and "client_body_timeout 7s;" in text
    assert f"server unix:{layout.socket} max_fails=0;" in text
    assert oct(layout.runtime_dir.stat().st_mode & 0o777) == "0o711"
    command = [nginx, "-t", "-p", str(layout.runtime_dir), "-c", str(written), "-e", "stderr"]
    checked = subprocess.run(command, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


STAND_IN = """
def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"ok": true}']
"""


def launch(tmp_path: Path, port: int, **settings: str) -> subprocess.Popen[bytes]:
    """`python -m service` with a stand-in WSGI app instead of the service's (the last
    gunicorn argument names the app). The launcher starts nothing without a published model
    version; the stand-in reads none, so one version's metadata.json stands in for it."""
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    stand_in_version = tmp_path / "models" / "risk_class" / "1"
    stand_in_version.mkdir(parents=True, exist_ok=True)
    (stand_in_version / "metadata.json").write_text("{}")
    env = os.environ | {
        "SERVICE_HOST": "127.0.0.1",
        "SERVICE_PORT": str(port),
        "SERVICE_WORKERS": "1",
        "SERVICE_MODELS_DIR": str(tmp_path / "models"),
        "PYTHONPATH": str(tmp_path),
    }
    env |= {f"SERVICE_{k.upper()}": v for k, v in settings.items()}
    return subprocess.Popen(
        [sys.executable, "-m", "service", "--chdir", str(tmp_path), "stand_in:app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as in a terminal
    )


def kill_group(pid: int) -> None:
    """Whatever is left of a launcher and of its children's sessions (nothing, when it stopped
    as it should)."""
    for group in [*children(pid), pid]:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def wait_serving(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            assert get(port) == 200
            return
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)


def get(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("how", ["SIGTERM to the launcher", "Ctrl-C to its process group"])
def test_a_stop_ends_nginx_first_so_a_request_still_arriving_is_answered(
    tmp_path: Path, how: str
) -> None:
    """A client still sending its body when the stop comes is answered: nginx, told first,
    finishes reading it and hands it to gunicorn, which is stopped only after nginx exits. A
    terminal's Ctrl-C reaches the whole foreground group: only the launcher hears it."""
    require_nginx()
    port = free_port()
    process = launch(tmp_path, port, drain_seconds="0")  # straight to the ordered stop
    try:
        wait_serving(process, port)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{}")
            time.sleep(0.3)
            if how.startswith("SIGTERM"):
                process.send_signal(signal.SIGTERM)
            else:
                os.killpg(process.pid, signal.SIGINT)
            time.sleep(1.0)  # nginx has stopped listening, gunicorn still runs
            with pytest.raises(OSError):
                get(port)
            client.sendall(b"  ")  # the rest of the body
            answer = client.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert process.wait(timeout=30) == 0
    finally:
        kill_group(process.pid)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output


def test_an_nginx_killed_outright_takes_its_workers_and_the_instance_down(
    tmp_path: Path,
) -> None:
    """No nginx worker outlives its master to answer 502s on the port: the launcher kills the
    front's whole session, stops gunicorn and exits 1 (the container restarts whole)."""
    require_nginx()
    port = free_port()
    process = launch(tmp_path, port)
    try:
        wait_serving(process, port)
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children(process.pid)}
        nginx_master = next(pid for pid, line in commands.items() if line.startswith(b"nginx:"))
        os.kill(nginx_master, signal.SIGKILL)
        assert process.wait(timeout=60) == 1
        with pytest.raises(OSError):
            get(port)
    finally:
        kill_group(process.pid)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert "nginx exited unexpectedly" in output and "Shutting down: Master" in output


def test_a_runtime_dir_that_does_not_exist_is_made(tmp_path: Path) -> None:
    require_nginx()
    port = free_port()
    # Short: a Unix socket's path has at most 107 bytes (pytest's own directories are deep).
    base = Path(tempfile.mkdtemp(prefix="rt-"))
    base.chmod(0o711)  # nginx's workers run as nobody under root: they must get through
    parent = base / "not" / "yet"
    process = launch(tmp_path, port, runtime_dir=str(parent))
    try:
        wait_serving(process, port)
        (own,) = parent.iterdir()  # the front's private directory, inside the one named
        assert own.name.startswith("underwriting-front-") and (own / "nginx.conf").is_file()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert list(parent.iterdir()) == []  # removed at exit
    finally:
        kill_group(process.pid)
        process.communicate(timeout=30)
        shutil.rmtree(base, ignore_errors=True)
