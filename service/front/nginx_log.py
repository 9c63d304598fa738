"""nginx's error log as the service's JSON log lines: nginx writes its own text format to stderr,
so the launcher reads it from a pipe and logs each line (logger `service.front.nginx`, with
nginx's level and the pid of the nginx process that wrote it)."""

from __future__ import annotations

import logging
import re

log = logging.getLogger("service.front.nginx")

# "2026/12/07 13:03:12 [emerg] 19049#19049: bind() to ... failed", or before nginx has read its
# configuration, "nginx: [alert] could not open error log file: ...".
_LINE = re.compile(
    r"(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d |nginx: )\[(?P<level>\w+)\] "
    r"(?:(?P<pid>\d+)#\d+: )?(?P<message>.*)"
)
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "crit": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emerg": logging.CRITICAL,
}


def parse(line: str) -> tuple[int, int | None, str]:
    """The level, pid and message of one line of nginx's error log (another line: a warning)."""
    found = _LINE.fullmatch(line)
    if found is None:
        return logging.WARNING, None, line
    pid = int(found["pid"]) if found["pid"] else None
    return LEVELS.get(found["level"], logging.WARNING), pid, found["message"]


def emit(line: str) -> None:
    """Log one line nginx wrote, as the process that wrote it."""
    level, pid, message = parse(line)
    if not log.isEnabledFor(level):
        return
    record = log.makeRecord(log.name, level, __file__, 0, "%s", (message,), None)
    if pid is not None:
        record.process = pid
    log.handle(record)
