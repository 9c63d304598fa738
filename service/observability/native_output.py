"""What native libraries write to stderr, as JSON log lines like every other line of the log.

LiteRT prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` when a model loads, and
TensorFlow its C++ log, straight to file descriptor 2: no Python logging setting reaches them,
and their text, written while another thread (or worker) writes a JSON line, can land inside
it. A worker therefore points fd 2 at a pipe it reads itself: each line that arrives is logged
(logger `service.native`, its level read from the line) through the JSON handlers, which keep
the original stderr. Python's own stray writes to stderr (a warning, a thread's traceback) take
the same path. Imported by the gunicorn master: no Flask.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("service.native")

# "INFO: ..." (LiteRT, TensorFlow Lite) and absl's "I0000 00:00:... file.cc:31] ..." (TensorFlow).
_PREFIXED = re.compile(r"(?P<level>INFO|WARNING|ERROR|FATAL): (?P<message>.*)")
_ABSL = re.compile(r"(?P<level>[IWEF])\d{4} ")
_LEVELS = {
    "INFO": logging.INFO,
    "I": logging.INFO,
    "WARNING": logging.WARNING,
    "W": logging.WARNING,
    "ERROR": logging.ERROR,
    "E": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "F": logging.CRITICAL,
}
# Room for a burst of native output while the relay waits for the interpreter lock (a native
# call holding it while it writes more than the pipe takes would block on a full pipe).
PIPE_BYTES = 1 << 20
LONGEST_LINE = 64 * 1024  # a line longer than this is logged in parts


def parse(line: str) -> tuple[int, str]:
    """The level and message of one line a native library wrote (unknown: a warning)."""
    if found := _PREFIXED.fullmatch(line):
        return _LEVELS[found["level"]], found["message"]
    if found := _ABSL.match(line):
        return _LEVELS[found["level"]], line
    return logging.WARNING, line


class NativeOutput:
    """fd 2 relayed into the log, from `start()` until `stop()` (a worker's life)."""

    def __init__(self) -> None:
        self._original = -1
        self._relay: threading.Thread | None = None

    def start(self) -> None:
        """Point fd 2 at a pipe read by a thread; move the log's handlers to the old stderr."""
        self._original = os.dup(2)
        stream = os.fdopen(
            os.dup(self._original), "w", buffering=1, encoding="utf-8", errors="backslashreplace"
        )
        _move_handlers(sys.stderr, stream)
        read, write = os.pipe()
        try:
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # above the system's pipe-max-size: the default 64 KiB will do
            pass
        sys.stderr.flush()
        os.dup2(write, 2)
        os.close(write)
        self._relay = start_relay(read, _log, "native-output")

    def stop(self, timeout: float = 2.0) -> None:
        """Give fd 2 back; the relay logs what is left in the pipe, then ends."""
        if self._relay is None:
            return
        sys.stderr.flush()
        os.dup2(self._original, 2)  # the pipe's last writer closes: the relay reads to its end
        self._relay.join(timeout)
        self._relay = None


def _move_handlers(old: TextIO, new: TextIO) -> None:
    """Every handler writing to `old` writes to `new` from now on."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                handler.setStream(new)


def start_relay(read: int, emit: Callable[[str], None], name: str) -> threading.Thread:
    """A thread that hands `emit` each line arriving on file descriptor `read` (which it
    closes) until every writer has closed it."""
    relay = threading.Thread(target=_relay, args=(read, emit), name=name, daemon=True)
    relay.start()
    return relay


def _relay(read: int, emit: Callable[[str], None]) -> None:
    pending = b""
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while chunk := pipe.read(PIPE_BYTES):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > LONGEST_LINE:
                lines, pending = [*lines, pending], b""
            for line in lines:
                _emit(emit, line)
    if pending:
        _emit(emit, pending)


def _emit(emit: Callable[[str], None], raw: bytes) -> None:
    line = raw.decode("utf-8", "backslashreplace").rstrip("\r")
    if line.strip():
        emit(line)


def _log(line: str) -> None:
    level, message = parse(line)
    log.log(level, "%s", message)
