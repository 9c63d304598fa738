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
from gunicorn.instrument.statsd import Statsd


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
    """gunicorn's logger, with its access log only when one is asked for.

    The app writes the access log. gunicorn would otherwise build every request's log fields
    (about 40 us) because a logging configuration is given, only for its access logger to drop
    them. Asked for (`--access-logfile`, syslog, a logging configuration of the operator's that
    names `gunicorn.access`), it is written as gunicorn writes it; with `--statsd-host`, gunicorn's
    statsd logger is used unchanged, as gunicorn would choose it.
    """

    def __new__(cls, cfg: Any) -> Any:
        if cfg.statsd_host:
            return Statsd(cfg)  # not a GunicornLogger: __init__ is not run again
        return super().__new__(cls)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if _access_logged(self.cfg):
            super().access(resp, req, environ, request_time)


def _access_logged(cfg: Any) -> bool:
    """Whether the operator asked gunicorn for its access log, one way or another."""
    configured = cfg.logconfig_dict or {}
    return bool(
        cfg.accesslog
        or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
        or cfg.logconfig
        or getattr(cfg, "logconfig_json", None)
        or "gunicorn.access" in configured.get("loggers", {})
    )
