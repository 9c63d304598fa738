"""The application factory: wires settings, the model store, the dataplane, protocols and errors."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from flask import Flask
from werkzeug.routing import BaseConverter

from service.http import auth
from service.http.errors import register_error_handlers
from service.inference.dataplane import Dataplane
from service.inference.loader import load_model
from service.inference.runtimes import Runtime, runtime_named
from service.inference.servable import Servable, serve
from service.observability import request_hooks, scoring
from service.openapi import docs
from service.protocols import health, metrics, tf_serving, v2
from service.repository.store import ModelStore
from service.settings import Settings

MODEL_NAMES = ("risk_class", "max_coverage")
# The composite runs both models on the same validated batch.
COMPOSITES = {"underwriting": MODEL_NAMES}
STORE_KEY = "model_store"


class ModelNameConverter(BaseConverter):
    """A model name: no slash and no colon, so `name:predict` splits where TF Serving's does."""

    regex = r"[^/:]+"


def load_servable(name: str, version: int, path: Path, runtime: Runtime) -> Servable:
    """Load one version and compile its runner (the store's loader)."""
    return serve(name, (load_model(name, version, path, runtime),))


def combine(name: str, components: tuple[Servable, ...]) -> Servable:
    """Build a composite over its components' models (the store's combiner)."""
    return serve(name, tuple(model for c in components for model in c.models))


def build_store(settings: Settings) -> ModelStore[Servable]:
    """Return a (not yet started) store over the settings' model repository."""
    return ModelStore(
        settings.models_dir,
        MODEL_NAMES,
        settings.reload_interval_seconds,
        loader=partial(
            load_servable, runtime=runtime_named(settings.runtime, settings.runtime_threads)
        ),
        composites=COMPOSITES,
        combine=combine,
    )


def create_app(
    settings: Settings | None = None, store: ModelStore[Servable] | None = None
) -> Flask:
    """Build the service; starts loading models in the background unless given a store."""
    settings = settings or Settings.from_env()
    if store is None:
        store = build_store(settings)
        store.start()
    dataplane = Dataplane(store, settings.max_records, on_scored=scoring.record_scored)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.converters["model"] = ModelNameConverter
    app.extensions[STORE_KEY] = store
    register_error_handlers(app)
    request_hooks.install(app)  # before auth: a refused request still gets an id and a log line
    keys_required = auth.install(app, settings)
    app.register_blueprint(health.create_blueprint(dataplane))
    app.register_blueprint(tf_serving.create_blueprint(dataplane))
    app.register_blueprint(v2.create_blueprint(dataplane))
    app.register_blueprint(metrics.create_blueprint())
    app.register_blueprint(docs.create_blueprint(store, settings, keys_required))
    return app
