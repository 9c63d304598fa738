"""gunicorn's logger under the service: no access log work unless one is asked for."""

from __future__ import annotations

import datetime
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from service.observability.log_format import GunicornLogger, logging_config


def _request() -> tuple[SimpleNamespace, SimpleNamespace, dict[str, str]]:
    response = SimpleNamespace(status="200 OK", sent=2, headers=[("Content-Type", "text/plain")])
    request = SimpleNamespace(
        method="GET", uri="/healthz", path="/healthz", query="", version=(1, 1), headers=[]
    )
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "RAW_URI": "/healthz",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    return response, request, environ


def _logger(**settings: object) -> GunicornLogger:
    config = Config()
    config.set("logconfig_dict", logging_config("info"))
    for name, value in settings.items():
        config.set(name, value)
    return GunicornLogger(config)


def test_no_access_line_is_built_without_an_access_log() -> None:
    calls: list[tuple[object, ...]] = []

    def atoms(*args: object) -> dict[str, str]:
        calls.append(args)
        return {}

    logger = _logger()
    logger.atoms = atoms
    response, request, environ = _request()
    logger.access(response, request, environ, datetime.timedelta(milliseconds=3))
    assert calls == []


def test_an_access_log_asked_for_is_written(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    logger = _logger(accesslog=str(log))
    response, request, environ = _request()
    logger.access(response, request, environ, datetime.timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.close()
    assert '"GET /healthz HTTP/1.1" 200' in log.read_text()


def test_an_access_logger_the_operator_configures_is_written_to() -> None:
    configured = logging_config("info")
    configured["loggers"] = dict(configured["loggers"]) | {  # type: ignore[call-overload]
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False}
    }
    calls: list[tuple[object, ...]] = []

    def atoms(*args: object) -> dict[str, str]:
        calls.append(args)
        return {}

    logger = _logger(logconfig_dict=configured)
    logger.atoms = atoms
    response, request, environ = _request()
    logger.access(response, request, environ, datetime.timedelta(milliseconds=3))
    assert len(calls) == 1


def test_statsd_is_gunicorns_own_logger_when_asked_for() -> None:
    from gunicorn.instrument.statsd import Statsd

    logger = _logger(statsd_host="127.0.0.1:8125")
    logger.sock.close()
    assert type(logger) is Statsd
    assert type(_logger()) is GunicornLogger
