"""gRPC load: ModelInfer calls from h2load, one connection per client, and the gRPC floor.

`run` is wrk's counterpart for gRPC: h2load (a C client, as wrk is, so the load generator's own
CPU does not crowd the server's) opens `connections` connections (the kernel hands each to one
worker) and sends one pre-serialised ModelInferRequest (raw tensors, as Triton's client sends
them) back to back on each for `seconds`, logging every call's latency. The floor (`python -m
bench.grpc_load --floor-port P`) is a bare grpcio server in as many processes as the service has
workers, on one port (SO_REUSEPORT) and with as many threads: it parses the request and answers
a fixed response, as bench/floor_app.py does for REST.
"""

from __future__ import annotations

import argparse
import re
import statistics
import struct
import subprocess
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from bench.wrk import Result  # the same fields as wrk's runs: the report reads both

METHOD = "/inference.GRPCInferenceService/ModelInfer"
READY = "/inference.GRPCInferenceService/ServerReady"


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


def frame(message: bytes, directory: Path) -> Path:
    """Write `message` as one gRPC frame (uncompressed, its length first): h2load's body."""
    path = directory / f"grpc-{len(message)}.bin"
    path.write_bytes(b"\x00" + struct.pack(">I", len(message)) + message)
    return path


def run(address: str, body: Path, connections: int, seconds: int) -> Result:
    """Load `address` with h2load (nghttp2's HTTP/2 load generator, in C as wrk is): one stream
    at a time on each of `connections` connections, the framed ModelInferRequest in `body`,
    for `seconds`. No warm-up inside the run: h2load leaves its warm-up's calls out of its
    counts but the server's CPU time cannot leave them out, so a caller warms up with a run of
    its own. A call counts as failed unless its HTTP status is 200 and its grpc-status 0
    (h2load's log has the first; errors are rare enough to be looked for in the server's
    metrics)."""
    log = body.with_suffix(".log")
    command = [
        "h2load",
        f"--clients={connections}",
        f"--threads={min(connections, 2)}",
        "--max-concurrent-streams=1",
        f"--duration={seconds}",
        "--header=content-type: application/grpc",
        "--header=te: trailers",
        f"--data={body}",
        f"--log-file={log}",
        f"http://{address}{METHOD}",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    entries = [line.split() for line in log.read_text().splitlines()]
    log.unlink()
    latencies = sorted(int(entry[2]) / 1e6 for entry in entries)  # microseconds in the log
    failed = sum(entry[1] != "200" for entry in entries)
    failed += int(_search(r"(\d+) failed", out)) + int(_search(r"(\d+) errored", out))
    return Result(
        requests_per_second=len(latencies) / seconds,
        p50=statistics.median(latencies),
        p99=latencies[int(0.99 * (len(latencies) - 1))],
        requests=len(latencies),
        errors=failed,
    )


def _search(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"h2load's report has no {pattern!r}: {text[-500:]}")
    return found.group(1)


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
