"""The WSGI entry point gunicorn imports in each worker: the only module-level app."""

from __future__ import annotations

import logging

from service.app import create_app
from service.settings import Settings

settings = Settings.from_env()
logging.basicConfig(format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s")
logging.getLogger("service").setLevel(settings.log_level.upper())
app = create_app(settings)
