"""What native code and nginx write to stderr becomes JSON log lines (the service over real
gunicorn, nginx and LiteRT: tests/integration/test_front.py)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest
from paths import REPO

from service.front import nginx_log
from service.observability import native_output

# A process that logs as a worker does, then writes to fd 2 as C code would (os.write: no
# Python buffer), from two threads at once, and a line longer than the pipe's relay reads.
WORKER = textwrap.dedent(
    """
    import logging.config, os, sys, threading
    from service.observability.log_format import logging_config
    from service.observability.native_output import NativeOutput

    logging.config.dictConfig(logging_config("info"))
    native = NativeOutput()
    native.start()
    log = logging.getLogger("service.test")
    def write(n):
        for i in range(200):
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
            log.info("python line %s", i)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    os.write(2, b"E0000 00:00:1.0   1 cuda_platform.cc:52] failed call to cuInit\\n")
    os.write(2, b"x" * 100000 + b"\\n")
    print("a stray print to stderr", file=sys.stderr)
    os.write(2, b"no newline at the end")
    native.stop()
    """
)


def test_every_line_written_to_fd_2_comes_out_as_one_json_object() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    entries = [json.loads(line) for line in ran.stderr.splitlines()]
    assert all(isinstance(entry, dict) for entry in entries)
    native = [e for e in entries if e["logger"] == "service.native"]
    delegate = "Created TensorFlow Lite XNNPACK delegate for CPU."
    assert sum(e["message"] == delegate and e["level"] == "info" for e in native) == 400
    assert sum(e["logger"] == "service.test" for e in entries) == 400
    assert {"error"} == {e["level"] for e in native if "cuInit" in e["message"]}
    assert sum(len(e["message"]) for e in native if set(e["message"]) == {"x"}) == 100_000
    messages = {e["message"] for e in native}
    assert {"a stray print to stderr", "no newline at the end"} <= messages


@pytest.mark.parametrize(
    "line, level, message",
    [
        ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", logging.INFO, None),
        ("WARNING: All log messages before absl::InitializeLog()", logging.WARNING, None),
        ("E0000 00:00:1.5  21 cuda_platform.cc:52] failed call to cuInit", logging.ERROR, "same"),
        ("I0000 00:00:1.5  21 cudart_stub.cc:31] Could not find cuda", logging.INFO, "same"),
        ("Traceback (most recent call last):", logging.WARNING, "same"),
    ],
)
def test_a_native_line_keeps_its_level(line: str, level: int, message: str | None) -> None:
    expected = line if message == "same" else line.split(": ", 1)[1]
    assert native_output.parse(line) == (level, expected)


@pytest.mark.parametrize(
    "line, parsed",
    [
        (
            "2026/12/07 13:03:12 [emerg] 19049#19049: bind() to 127.0.0.1:8080 failed (98)",
            (logging.CRITICAL, 19049, "bind() to 127.0.0.1:8080 failed (98)"),
        ),
        (
            "2026/12/07 13:24:43 [warn] 3126#3126: *7 a client request body is buffered",
            (logging.WARNING, 3126, "*7 a client request body is buffered"),
        ),
        (
            "nginx: [alert] could not open error log file",
            (logging.CRITICAL, None, "could not open error log file"),
        ),
        ("something else", (logging.WARNING, None, "something else")),
    ],
)
def test_an_nginx_line_keeps_its_level_and_process(
    line: str, parsed: tuple[int, int | None, str]
) -> None:
    assert nginx_log.parse(line) == parsed
