"""A gRPC server over one dataplane: the Open Inference Protocol, TensorFlow Serving's
PredictionService and ModelService, and `grpc.health.v1`, with each call's caller, key check,
metrics and log line (service.grpc_api.calls).
"""

from __future__ import annotations

from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2_grpc
from tritonclient.grpc import service_pb2_grpc

from service.api_keys import Keys, configured_keys
from service.dataplane import Dataplane
from service.grpc_api.calls import CallInterceptor
from service.grpc_api.health import DataplaneHealth
from service.grpc_api.oip import AfterCalls, InferenceServicer
from service.grpc_api.tf_serving import (
    MODEL_SERVICE,
    PREDICTION_SERVICE,
    TfServingServicer,
    handlers,
)
from service.settings import Settings

OIP_SERVICE = "inference.GRPCInferenceService"


@dataclass(frozen=True)
class Limits:
    """How much one worker's server takes: threads, message size, calls open at once."""

    threads: int = 2
    max_message_bytes: int = 32 * 1024 * 1024
    max_concurrent_streams: int = 32


@dataclass
class GrpcServer:
    """A server bound to its port, not yet started."""

    server: grpc.Server
    port: int
    health: DataplaneHealth
    after: AfterCalls

    def start(self) -> None:
        self.health.refresh()  # watchers' first answer is the dataplane's, not a default
        self.server.start()
        self.health.start()

    def stop(self, grace: float | None) -> None:
        """NOT_SERVING on health first, then refuse new calls and finish those in flight
        within `grace` seconds, then the work after them (the shadow's)."""
        self.health.stop()
        self.server.stop(grace).wait()
        self.after.stop()


def build_server(
    dataplane: Dataplane, address: str, limits: Limits = Limits(), keys: Keys | None = None
) -> GrpcServer:
    """A server bound to `address` (host:port; port 0 picks one), not started.

    Its threads take turns on the dataplane (one call scores at a time, as in a sync gunicorn
    worker); parallelism comes from processes, as for REST. A message larger than
    `max_message_bytes` either way is refused by grpc with RESOURCE_EXHAUSTED before it reaches
    a servicer, and so is a call beyond `max_concurrent_streams` held by the server.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=limits.threads, thread_name_prefix="grpc"),
        interceptors=[CallInterceptor(keys)],
        options=[
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
            ("grpc.max_concurrent_streams", limits.max_concurrent_streams),
            ("grpc.so_reuseport", 1),  # every worker of the instance listens on the port
        ],
        maximum_concurrent_rpcs=limits.max_concurrent_streams,
    )
    after = AfterCalls()
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceServicer(dataplane, after), server
    )
    server.add_generic_rpc_handlers(handlers(TfServingServicer(dataplane, after)))
    health = DataplaneHealth(dataplane, (OIP_SERVICE, PREDICTION_SERVICE, MODEL_SERVICE))
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(address)
    return GrpcServer(server, port, health, after)


def serve_grpc(dataplane: Dataplane, settings: Settings) -> GrpcServer:
    """Start serving the dataplane over gRPC on SERVICE_HOST:SERVICE_GRPC_PORT, shared with the
    instance's other worker processes (SO_REUSEPORT: the kernel spreads connections)."""
    limits = Limits(
        settings.grpc_threads, settings.grpc_max_message_bytes, settings.grpc_max_concurrent_streams
    )
    host = settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address, as grpc reads one
    address = f"{host}:{settings.grpc_port}"
    served = build_server(dataplane, address, limits, configured_keys(settings))
    if served.port == 0:  # the launcher checked the port; another process took it since
        raise RuntimeError(f"cannot listen for gRPC on {address}")
    served.start()
    return served
