"""`python -m service`: check the settings and what they name (service.preflight), then run nginx
in front of gunicorn (the default) or become gunicorn (SERVICE_FRONT=none).

With the front, this process supervises both and orders their shutdown (service.front). Without,
it execs gunicorn, so that SIGTERM from a container runtime reaches gunicorn's master.
`--help` prints the service's own help: what it starts and every SERVICE_* setting.
"""

from __future__ import annotations

import logging.config
import os
import re
import sys
import textwrap
from typing import NoReturn

from service import preflight
from service.front.supervisor import FrontError
from service.front.supervisor import run as run_front
from service.observability.log_format import logging_config
from service.settings import Settings, SettingsError, documentation

log = logging.getLogger("service.launcher")

COMMAND = ["-m", "gunicorn", "-c", "python:service.gunicorn_config"]  # the app: wsgi_app there
ABOUT = """\
Serve the underwriting models over HTTP and gRPC. Starts nginx on SERVICE_HOST:SERVICE_PORT in
front of gunicorn (the master, then SERVICE_WORKERS sync workers) on a private Unix socket;
nginx reads whole requests within time and size limits and answers malformed ones itself. Each
worker loads the highest complete version of each model in SERVICE_MODELS_DIR after the fork,
answers TensorFlow Serving REST (/v1) and Open Inference Protocol (/v2) requests once its models
are warm (GET /readyz), serves the same over gRPC on SERVICE_HOST:SERVICE_GRPC_PORT (the Open
Inference Protocol, TensorFlow Serving's PredictionService and ModelService, grpc.health.v1),
and polls the repository for new versions. API documentation: GET /docs.
Metrics: GET /metrics. Before it starts anything it checks that the port is free, that the
directories it writes to are writable, that nginx is installed and that SERVICE_MODELS_DIR holds
a model; a problem stops it at once, in one line naming the setting to change."""


def plain_text(markdown: str) -> str:
    """A setting's documentation as a terminal shows it: no code marks, links as their text."""
    return re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown).replace("`", "")


def usage() -> str:
    """The help text: what the command starts, every setting, how to reach gunicorn's options."""
    lines = ["usage: python -m service [-h] [GUNICORN_OPTION ...]", "", ABOUT, ""]
    lines.append("Settings, from environment variables (a bad value stops start-up, naming it):")
    for variable, default, meaning in documentation():
        default, meaning = plain_text(default), plain_text(meaning)
        lines.append(f"  {variable}  " + (f"(default: {default})" if default else "(unset)"))
        lines += textwrap.wrap(meaning, width=92, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines += [
        "",
        "Any other arguments go to gunicorn after the service's configuration, and override it,",
        "for example `python -m service --access-logfile -`; gunicorn's options: gunicorn --help.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print help, or check the settings and what they name (fail fast, one line a problem)
    and run the service."""
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):
        print(usage())
        return
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        logging.config.dictConfig(logging_config("info"))
        fail([str(exc)])
    logging.config.dictConfig(logging_config(settings.log_level))  # as gunicorn's: JSON lines
    if problems := preflight.problems(settings, args):
        fail(problems)
    if settings.front == "none":
        os.execv(sys.executable, [sys.executable, *COMMAND, *args])
    try:
        sys.exit(run_front(settings, [sys.executable, *COMMAND, *args]))
    except FrontError as exc:
        fail([str(exc)])


def fail(problems: list[str]) -> NoReturn:
    """Log each reason the service cannot start (a JSON line each, as every other line of its
    log) and exit 1."""
    for problem in problems:
        log.error(problem)
    sys.exit(1)


if __name__ == "__main__":
    main()
