"""`python -m service`: check the settings, then become gunicorn running the service.

exec (not a child process) so that SIGTERM from a container runtime reaches gunicorn's master.
`--help` prints the service's own help: what it starts and every SERVICE_* setting.
"""

from __future__ import annotations

import os
import sys
import textwrap

from service.settings import Settings, SettingsError, documentation

COMMAND = ["-m", "gunicorn", "-c", "python:service.gunicorn_config", "service.wsgi:app"]
ABOUT = """\
Serve the underwriting models over HTTP. Starts gunicorn (the master, then SERVICE_WORKERS sync
workers) with the service's configuration; each worker loads the highest complete version of
each model in SERVICE_MODELS_DIR after the fork, answers TensorFlow Serving REST (/v1) and Open
Inference Protocol (/v2) requests once its models are warm (GET /readyz), and polls the
repository for new versions. API documentation: GET /docs. Metrics: GET /metrics."""


def usage() -> str:
    """The help text: what the command starts, every setting, how to reach gunicorn's options."""
    lines = ["usage: python -m service [-h] [GUNICORN_OPTION ...]", "", ABOUT, ""]
    lines.append("Settings, from environment variables (a bad value stops start-up, naming it):")
    for variable, default, meaning in documentation():
        lines.append(f"  {variable}  " + (f"(default: {default})" if default else "(unset)"))
        lines += textwrap.wrap(meaning, width=92, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines += [
        "",
        "Any other arguments go to gunicorn after the service's configuration, and override it,",
        "for example `python -m service --access-logfile -`; gunicorn's options: gunicorn --help.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print help, or check the settings (fail fast, readable) and exec gunicorn."""
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):
        print(usage())
        return
    try:
        Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    os.execv(sys.executable, [sys.executable, *COMMAND, *args])


if __name__ == "__main__":
    main()
