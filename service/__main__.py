"""`python -m service`: replace this process with gunicorn, configured by service.gunicorn_config.

exec (not a child process) so that SIGTERM from a container runtime reaches gunicorn's master.
"""

from __future__ import annotations

import os
import sys

from service.settings import Settings, SettingsError

COMMAND = ["-m", "gunicorn", "-c", "python:service.gunicorn_config", "service.wsgi:app"]


def main() -> None:
    """Check the settings (fail fast, readable), then exec gunicorn."""
    try:
        Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    os.execv(sys.executable, [sys.executable, *COMMAND, *sys.argv[1:]])


if __name__ == "__main__":
    main()
