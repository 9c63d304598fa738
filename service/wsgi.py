"""The WSGI entry point gunicorn imports in each worker: the only module-level app."""

from __future__ import annotations

import logging
import logging.config

from service.app import create_app
from service.observability.log_format import logging_config
from service.settings import Settings

settings = Settings.from_env()
if not logging.getLogger().handlers:  # under gunicorn, its logconfig_dict already did this
    logging.config.dictConfig(logging_config(settings.log_level))
app = create_app(settings)
