"""The application factory: wires settings, the model store, the protocol blueprints and errors."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.routing import BaseConverter

from service import (
    access_log,
    api_docs,
    auth,
    health,
    http_metrics,
    metrics_endpoint,
    tf_serving,
    v2,
)
from service.errors import register_error_handlers
from service.model_loader import load_model
from service.model_store import ModelStore
from service.servable import Servable, serve
from service.settings import Settings
from service.tf_runtime import configure_threads

MODEL_NAMES = ("risk_class", "max_coverage")
# The composite runs both models on the same validated batch.
COMPOSITES = {"underwriting": MODEL_NAMES}
STORE_KEY = "model_store"


class ModelNameConverter(BaseConverter):
    """A model name: no slash and no colon, so `name:predict` splits where TF Serving's does."""

    regex = r"[^/:]+"


def load_servable(name: str, version: int, path: Path) -> Servable:
    """Load one version and compile its runner (the store's loader)."""
    return serve(name, (load_model(name, version, path),))


def build_store(settings: Settings) -> ModelStore:
    """Return a (not yet started) store over the settings' model repository."""
    return ModelStore(
        settings.models_dir,
        MODEL_NAMES,
        settings.reload_interval_seconds,
        loader=load_servable,
        composites=COMPOSITES,
        combine=serve,
    )


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> Flask:
    """Build the service; starts loading models in the background unless given a store."""
    settings = settings or Settings.from_env()
    if store is None:
        configure_threads(settings.tf_threads)
        store = build_store(settings)
        store.start()
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.converters["model"] = ModelNameConverter
    app.extensions[STORE_KEY] = store
    register_error_handlers(app)
    http_metrics.install(app)
    access_log.install(app)  # before auth: a refused request still gets an id and a log line
    keys_required = auth.install(app, settings)
    app.register_blueprint(health.create_blueprint(store))
    app.register_blueprint(tf_serving.create_blueprint(store, settings))
    app.register_blueprint(v2.create_blueprint(store, settings))
    app.register_blueprint(metrics_endpoint.create_blueprint())
    app.register_blueprint(api_docs.create_blueprint(store, settings, keys_required))
    return app
