"""Log lines as JSON objects, one per line: no text a client sends can start a line of its own.

gunicorn's error log repeats what it refused (a header, a request line); in plain text a newline
in that input would forge a line. Imported by the gunicorn master and the launcher: no Flask.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, pid, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ASCII escapes: a lone surrogate in refused input must not fail the write either.
        return json.dumps(entry, ensure_ascii=True)


def logging_config(level: str) -> dict[str, object]:
    """gunicorn's `logconfig_dict`: its error log and the service's loggers, as JSON on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": "WARNING"},
        "loggers": {
            "gunicorn.error": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "service": {"level": level.upper()},
        },
    }


class GunicornLogger(Logger):
    """gunicorn's logger, with its access log only when one is asked for (`--access-logfile`).

    The app writes the access log. gunicorn would otherwise build every request's log fields
    (about 40 us) because a logging configuration is given, only for its access logger to drop
    them.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        cfg = self.cfg
        if cfg.accesslog or (cfg.syslog and not cfg.disable_redirect_access_to_syslog):
            super().access(resp, req, environ, request_time)
