"""A gRPC server answering the Open Inference Protocol over one dataplane."""

from __future__ import annotations

from concurrent import futures

import grpc
from tritonclient.grpc import service_pb2_grpc

from service.callers import Caller
from service.dataplane import Dataplane
from service.grpc_api.oip import InferenceServicer, request_id_of


def build_server(
    dataplane: Dataplane, address: str, max_message_bytes: int
) -> tuple[grpc.Server, int]:
    """A server bound to `address` (host:port; port 0 picks one), not started; and its port.

    Calls are served one at a time, on one thread: a dataplane and its decision store belong
    to one process and are used as a sync gunicorn worker uses them (SQLite connections are
    bound to their thread, a chain is appended under one lock anyway, and the GIL would keep
    threads from scoring in parallel). Parallelism comes from processes, as for REST. Messages
    larger than `max_message_bytes` either way are refused by grpc with RESOURCE_EXHAUSTED
    before they reach the servicer.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ],
    )
    servicer = InferenceServicer(dataplane, lambda context: Caller(request_id_of(context)))
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(address)
    return server, port
