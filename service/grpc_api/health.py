"""`grpc.health.v1.Health` over the dataplane, for Kubernetes' `grpc` probes and load balancers.

The server (`""`) and each of its services are SERVING while the instance is ready (its models
and policy loaded, the decision record writable, not draining), NOT_SERVING otherwise; a model's
name is SERVING while that model can be addressed; any other name is NOT_FOUND. A check reads
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
NAME_SHOWN = 128  # how much of an unknown name the answer repeats


class DataplaneHealth(HealthServicer):
    """Health statuses read from the dataplane: the server's, its services', each model's.

    A check never waits for a call being scored: while the dataplane is busy, the server's
    status is the one last read. Watchers are told of a change by the refresh thread alone
    (grpc's health library sends to them while holding its lock, so one sender, and only on a
    change, keeps that lock from being held against grpc's own thread).
    """

    def __init__(self, dataplane: Dataplane, services: tuple[str, ...]) -> None:
        super().__init__(experimental_non_blocking=True)
        self.dataplane = dataplane
        self.services = services
        self._last: dict[str, int] = {}
        self._stopped = threading.Event()
        self._watching = threading.Thread(
            target=self._refresh_often, name="grpc-health", daemon=True
        )

    def statuses(self) -> dict[str, int]:
        """Every name's status now (the server's as last read, if the dataplane is busy)."""
        if self._stopped.is_set():
            return dict.fromkeys(self._last or ("",), NOT_SERVING)
        overall = self._last.get("", NOT_SERVING)
        if self.dataplane.lock.acquire(blocking=False):
            try:
                self.dataplane.ready()
                overall = SERVING
            except ServiceError:
                overall = NOT_SERVING
            finally:
                self.dataplane.lock.release()
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
        """Read every name's status; tell the watchers of each that changed."""
        found = self.statuses()
        for name, status in found.items():
            if self._last.get(name) != status:
                self.set(name, status)
        self._last = found

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        found = self.statuses()
        if request.service not in found:
            named = ", ".join(repr(name) for name in found)
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"Unknown service {request.service[:NAME_SHOWN]!r}: check {named}",
            )
        return health_pb2.HealthCheckResponse(status=found[request.service])

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
