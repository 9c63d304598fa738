"""`grpc.health.v1.Health` over the dataplane, for Kubernetes' `grpc` probes and load balancers.

The server (`""`) and each of its services are SERVING while the instance is ready (its models
and policy loaded, the decision record writable, not draining), NOT_SERVING otherwise; a model's
name is SERVING while that model can be addressed; any other name is NOT_FOUND. A check computes
the answer afresh; watchers hear of changes within REFRESH_SECONDS.
"""

from __future__ import annotations

import threading
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import HealthServicer

from service.dataplane import Dataplane
from service.errors import ServiceError

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
REFRESH_SECONDS = 1.0


class DataplaneHealth(HealthServicer):
    """Health statuses read from the dataplane: the server's, its services', each model's."""

    def __init__(self, dataplane: Dataplane, services: tuple[str, ...]) -> None:
        super().__init__(experimental_non_blocking=True)
        self.dataplane = dataplane
        self.services = services
        self._stopped = threading.Event()
        self._watching = threading.Thread(target=self._refresh_often, name="grpc-health")

    def statuses(self) -> dict[str, int]:
        """Every name's status now."""
        try:
            self.dataplane.ready()
            overall = SERVING
        except ServiceError:
            overall = NOT_SERVING
        found = dict.fromkeys(("", *self.services), overall)
        for name in self.dataplane.model_names():
            found[name] = self._model_status(name)
        return found

    def _model_status(self, name: str) -> int:
        if self.dataplane.draining():
            return NOT_SERVING
        try:
            self.dataplane.servable(name)
        except ServiceError:
            return NOT_SERVING
        return SERVING

    def refresh(self) -> None:
        """Set every name's status (telling its watchers of a change)."""
        for name, status in self.statuses().items():
            self.set(name, status)

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        statuses = self.statuses()
        for name, status in statuses.items():
            self.set(name, status)
        if request.service not in statuses:
            named = ", ".join(repr(name) for name in statuses)
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"Unknown service {request.service!r}: check {named}"
            )
        return super().Check(request, context)

    def start(self) -> None:
        self._watching.start()

    def stop(self) -> None:
        """Every name NOT_SERVING from now on (the server is about to drain), watchers told."""
        self._stopped.set()
        self.enter_graceful_shutdown()

    def _refresh_often(self) -> None:
        while not self._stopped.wait(REFRESH_SECONDS):
            try:
                self.refresh()
            except Exception:  # a broken read must not end the watchers' updates
                continue
