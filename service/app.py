"""The application factory: wires settings, the model store, the dataplane, the protocols and
endpoints, and errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from flask import Flask, after_this_request
from flask import Response as FlaskResponse
from werkzeug.routing import BaseConverter, IntegerConverter, Map

from policy.document import POLICY_NAME, Policy
from service.dataplane import Dataplane
from service.decisions.case_book import CaseBook
from service.decisions.cases import Casework
from service.decisions.listing import MAX_SEQUENCE
from service.decisions.store import DecisionStore, open_store
from service.endpoints import cards, cases, decisions, health, metrics
from service.grpc_api.server import serve_grpc
from service.http import auth, security_headers
from service.http.client_address import FromTheFront
from service.http.errors import register_error_handlers
from service.inference.composing import COMPOSITES, MODEL_NAMES, combine, load_servable
from service.inference.runtimes import runtime_named
from service.inference.servable import Servable
from service.monitoring.case_queue import CaseQueueCollector
from service.monitoring.collector import ModelBehaviourCollector
from service.monitoring.drift import DriftMonitor
from service.monitoring.shadow import LABEL_PREFIX as CHALLENGER_LABEL
from service.monitoring.shadow import Shadow
from service.observability import request_hooks
from service.openapi import docs
from service.protocols import tf_serving, v2
from service.repository.store import ModelStore
from service.settings import Settings

STORE_KEY = "model_store"
DATAPLANE_KEY = "dataplane"  # what every protocol of this app calls
GRPC_KEY = "grpc_server"  # starts a gRPC server over the app's dataplane (service.gunicorn_config)


class ModelNameConverter(BaseConverter):
    """A model name: no slash and no colon, so `name:predict` splits where TF Serving's does."""

    regex = r"[^/:]+"


class CaseIdConverter(IntegerConverter):
    """A case's id: digits, no larger than the store's 64-bit sequences (beyond: no route)."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, max=MAX_SEQUENCE)


def build_store(settings: Settings, challenger: bool = False) -> ModelStore[Servable | Policy]:
    """Return a (not yet started) store over the settings' model repository, or over the
    challenger's (models only: a challenger decides with the champion's policy)."""
    names: tuple[str, ...]
    composites: dict[str, tuple[str, ...]]
    if challenger:
        names, composites = MODEL_NAMES, {name: MODEL_NAMES for name in COMPOSITES}
        assert settings.shadow_models_dir is not None
        directory, label_prefix = settings.shadow_models_dir, CHALLENGER_LABEL
    else:
        names, composites = (*MODEL_NAMES, POLICY_NAME), dict(COMPOSITES)
        directory, label_prefix = settings.models_dir, ""
    return ModelStore(
        directory,
        names,
        settings.reload_interval_seconds,
        loader=partial(
            load_servable, runtime=runtime_named(settings.runtime, settings.runtime_threads)
        ),
        composites=composites,
        combine=combine,
        label_prefix=label_prefix,
    )


def build_recorder(settings: Settings) -> DecisionStore:
    """The decision record store the settings name (it connects on first use, in the worker)."""
    return open_store(
        settings.decisions_path(),
        settings.decisions_database_url,
        settings.decisions_retention_days,
        settings.decisions_sync,
        settings.case_applicant_days,
    )


def shared_directory() -> Path | None:
    """Where workers share their windows: beside the Prometheus files (None: one process)."""
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(shared) if shared else None


def build_drift_monitor(settings: Settings) -> DriftMonitor:
    """Drift windows beside the Prometheus files when workers share them, else in memory."""
    return DriftMonitor(shared_directory(), settings.drift_window_per_worker)


def build_shadow(settings: Settings) -> Shadow | None:
    """The challenger (a second repository's models, deciding with the champion's policy)."""
    if settings.shadow_models_dir is None:
        return None
    store = build_store(settings, challenger=True)
    store.start()
    return Shadow(
        store,
        settings.shadow_model,
        settings.shadow_sample,
        shared_directory(),
        settings.drift_window_per_worker,
    )


def after_response(work: Callable[[], None]) -> None:
    """Run `work` once this request's response has gone to the client (on its close)."""

    @after_this_request
    def _hand_over(response: FlaskResponse) -> FlaskResponse:
        response.call_on_close(work)
        return response


def _draining(settings: Settings) -> Callable[[], bool]:
    """True once the launcher marked the instance as shutting down (service.front)."""
    marker = settings.drain_marker
    if marker is None:
        return lambda: False
    return marker.exists


def create_app(
    settings: Settings | None = None,
    store: ModelStore[Servable | Policy] | None = None,
    recorder: DecisionStore | None = None,
) -> Flask:
    """Build the service; starts loading models in the background unless given a store."""
    settings = settings or Settings.from_env()
    if store is None:
        store = build_store(settings)
        store.start()
    drift = build_drift_monitor(settings)
    shadow = build_shadow(settings)
    dataplane = Dataplane(
        store,
        settings.max_records,
        recorder=recorder or build_recorder(settings),
        drift=drift,
        shadow=shadow,
        defer=after_response,
        draining=_draining(settings),
        casework=Casework(settings.case_audit_share),
    )
    app = Flask(__name__, static_folder=None)
    app.wsgi_app = FromTheFront(app.wsgi_app)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.converters["model"] = ModelNameConverter
    app.url_map.converters["case"] = CaseIdConverter
    app.extensions[STORE_KEY] = store
    app.extensions[DATAPLANE_KEY] = dataplane
    app.extensions[GRPC_KEY] = partial(serve_grpc, dataplane, settings)
    register_error_handlers(app)
    request_hooks.install(app)  # before auth: a refused request still gets an id and a log line
    security_headers.install(app)
    keys_required = auth.install(app, settings)
    app.register_blueprint(health.create_blueprint(dataplane))
    app.register_blueprint(tf_serving.create_blueprint(dataplane))
    app.register_blueprint(v2.create_blueprint(dataplane))
    app.register_blueprint(decisions.create_blueprint(dataplane))
    app.register_blueprint(cases.create_blueprint(dataplane))
    app.register_blueprint(cards.create_blueprint(dataplane))
    collector = ModelBehaviourCollector(drift, store.serving, shadow, dataplane.lock)
    queue = CaseQueueCollector(lambda: dataplane.casework_on(CaseBook.waiting))
    app.register_blueprint(metrics.create_blueprint(collector, queue))
    app.register_blueprint(docs.create_blueprint(store, settings, keys_required))
    return app
