"""gRPC load: ModelInfer calls from separate processes, one connection each, and the gRPC floor.

`run` is wrk's counterpart for gRPC: `connections` client processes (so the client's own Python
does not serialise on one GIL), each on a connection of its own (the kernel hands each to one
worker), send one pre-serialised ModelInferRequest (raw tensors, as Triton's client sends them)
back to back for `seconds`, and report every call's latency. The floor (`python -m
bench.grpc_load --floor-port P`) is a bare grpcio server in as many processes as the service has
workers, on one port (SO_REUSEPORT) and with as many threads: it parses the request and answers
a fixed response, as bench/floor_app.py does for REST.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc

METHOD = "/inference.GRPCInferenceService/ModelInfer"
READY = "/inference.GRPCInferenceService/ServerReady"
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(frozen=True)
class Result:
    """One run: throughput, latency percentiles (seconds) and failures."""

    requests_per_second: float
    p50: float
    p99: float
    requests: int
    errors: int


def request_bytes(
    columns: dict[str, list[Any]], features: list[dict[str, Any]], explain: bool = True
) -> bytes:
    """A serialised ModelInferRequest for `underwriting`, its tensors as raw bytes."""
    import numpy as np
    import tritonclient.grpc as triton
    from tritonclient.grpc import service_pb2 as pb

    datatypes = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "category": "BYTES"}
    request = pb.ModelInferRequest(model_name="underwriting")
    for feature in features:
        kind = object if feature["type"] == "category" else None
        values = np.asarray(columns[feature["name"]], dtype=kind)
        tensor = triton.InferInput(feature["name"], [len(values)], datatypes[feature["type"]])
        tensor.set_data_from_numpy(values)
        request.inputs.append(tensor._get_tensor())
        request.raw_input_contents.append(tensor._get_content())
    if not explain:
        request.parameters["explain"].bool_param = False
    return request.SerializeToString()


def _client(address: str, message: bytes, seconds: float, start: float, out: Any) -> None:
    latencies: list[float] = []
    errors = 0
    with grpc.insecure_channel(address, options=OWN_CONNECTION) as channel:
        call = channel.unary_unary(METHOD)
        call(message, timeout=30)  # connected before the clock starts
        while time.monotonic() < start:
            time.sleep(0.001)
        end = start + seconds
        while (now := time.perf_counter()) and time.monotonic() < end:
            try:
                call(message, timeout=30)
            except grpc.RpcError:
                errors += 1
            latencies.append(time.perf_counter() - now)
    out.put((latencies, errors))


def run(address: str, message: bytes, connections: int, seconds: float) -> Result:
    """Load `address` with `connections` client processes for `seconds`."""
    context = multiprocessing.get_context("spawn")  # no grpc state inherited across a fork
    out = context.Queue()
    start = time.monotonic() + 2.0 + 0.2 * connections  # every client connected first
    clients = [
        context.Process(target=_client, args=(address, message, seconds, start, out))
        for _ in range(connections)
    ]
    for client in clients:
        client.start()
    latencies: list[float] = []
    errors = 0
    for _ in clients:
        found, failed = out.get(timeout=seconds + 60)
        latencies += found
        errors += failed
    for client in clients:
        client.join()
    latencies.sort()
    return Result(
        requests_per_second=len(latencies) / seconds,
        p50=statistics.median(latencies),
        p99=latencies[int(0.99 * (len(latencies) - 1))],
        requests=len(latencies),
        errors=errors,
    )


def wait_ready(address: str, timeout: float = 60.0) -> None:
    """Until ServerReady answers on `address`."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        ready = channel.unary_unary(READY)
        while True:
            try:
                ready(b"", timeout=2)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def serve_floor(port: int, threads: int) -> None:
    """The floor: parse each ModelInferRequest, answer one fixed ModelInferResponse."""
    from tritonclient.grpc import service_pb2 as pb

    answer = pb.ModelInferResponse(model_name="underwriting", id="floor")
    output = answer.outputs.add(name="risk_class", datatype="BYTES", shape=[1])
    output.contents.bytes_contents.append(b"standard")
    fixed = answer.SerializeToString()

    def infer(message: bytes, context: grpc.ServicerContext) -> bytes:
        pb.ModelInferRequest.FromString(message)
        return fixed

    handlers = {
        "ModelInfer": grpc.unary_unary_rpc_method_handler(infer),
        "ServerReady": grpc.unary_unary_rpc_method_handler(lambda message, context: b""),
    }
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads),
        options=[("grpc.so_reuseport", 1)],
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("inference.GRPCInferenceService", handlers)]
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the gRPC floor server")
    parser.add_argument("--floor-port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    serve_floor(arguments.floor_port, arguments.threads)


class Floor:
    """The floor's server processes, as many as the service has workers."""

    def __init__(self, port: int, processes: int, threads: int) -> None:
        import subprocess
        import sys

        command = [sys.executable, "-m", "bench.grpc_load", "--floor-port", str(port)]
        self.address = f"127.0.0.1:{port}"
        self.processes = [
            subprocess.Popen([*command, "--threads", str(threads)]) for _ in range(processes)
        ]
        wait_ready(self.address)

    def cpu_seconds(self) -> float:
        from bench.servers import cpu_seconds

        return sum(cpu_seconds(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)
