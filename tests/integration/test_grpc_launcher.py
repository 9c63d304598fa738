"""gRPC through what `python -m service` starts: every gunicorn worker serves it on one port.

Stock clients (Triton's `tritonclient.grpc`, TensorFlow Serving's generated stubs) call the real
launcher (nginx in front of gunicorn's REST, each worker's gRPC server on SERVICE_GRPC_PORT) and
get what REST answers for the same records; their decisions are on record under their request
ids; the calls are counted and logged; a worker SIGKILLed and the launcher SIGTERMed under gRPC
load lose no acknowledged decision, and health turns NOT_SERVING before the instance stops.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as triton
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import triton_inputs
from service_support import (
    applicant_columns,
    declared_features,
    free_port,
    gunicorn_workers,
    make_repository,
    served,
    start_service,
    stop_service,
    wait_ready,
)
from tensorflow_serving_client import predict

KEY = "grpc-launcher-key"
HEADERS = {"authorization": f"Bearer {KEY}"}
THREADS = 8
RETRIES = 200  # 10 s of retries: well beyond grpc's first reconnection
# A call whose worker died, or that a stopping worker never started: safe to send again.
RETRIED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@pytest.fixture(scope="module")
def repository(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repository(tiny_models_dir, tmp_path_factory.mktemp("grpc-launcher"))


def health_status(address: str, service: str = "") -> Any:
    with grpc.insecure_channel(address) as channel:
        request = health_pb2.HealthCheckRequest(service=service)
        return health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status


def test_stock_clients_get_the_rest_answer_through_the_launcher(
    repository: Path, tmp_path: Path
) -> None:
    log = tmp_path / "service.log"
    grpc_port = free_port()
    features = declared_features(repository)
    columns = applicant_columns(7, seed=41)
    with served(repository, log, grpc_port=str(grpc_port), api_keys=KEY) as (base_url, _):
        address = f"127.0.0.1:{grpc_port}"
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", "inference.GRPCInferenceService", "underwriting", "risk_class"):
            assert health_status(address, service) == serving
        stock = triton.InferenceServerClient(address)
        result = stock.infer(
            "underwriting",
            triton_inputs(columns, features),
            headers=HEADERS | {"x-request-id": "launcher-triton-1"},
        )
        rest = requests.post(
            f"{base_url}/v1/models/underwriting:predict",
            json={"inputs": {f["name"]: columns[f["name"]] for f in features}},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        ).json()["outputs"]
        decisions = [json.loads(v) for v in result.as_numpy("decision")]
        assert decisions == rest["decision"]
        np.testing.assert_allclose(result.as_numpy("max_coverage"), rest["max_coverage"])
        assert [v.decode() for v in result.as_numpy("risk_class")] == rest["risk_class"]
        tf_outputs, trailing = predict(address, columns, features, HEADERS)
        assert [json.loads(v) for v in tf_outputs["decision"].string_val] == rest["decision"]
        assert trailing["x-request-id"]
        recorded = requests.get(
            f"{base_url}/v1/decisions/launcher-triton-1",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
        ).json()["decisions"]
        assert [r["decision"] for r in recorded] == decisions
        with pytest.raises(triton.InferenceServerException) as refused:
            stock.infer("underwriting", triton_inputs(columns, features))  # no key
        assert refused.value.status() == "StatusCode.UNAUTHENTICATED"
        metrics = requests.get(f"{base_url}/metrics", timeout=10).text
    assert (
        'underwriting_grpc_server_handled_total{grpc_code="OK",grpc_method="ModelInfer",'
        'grpc_service="inference.GRPCInferenceService"} 1.0'
    ) in metrics
    assert 'grpc_code="UNAUTHENTICATED",grpc_method="ModelInfer"' in metrics
    # What the dashboard queries (test_metrics_gunicorn checks the other families).
    assert "underwriting_grpc_server_handling_seconds_bucket{" in metrics
    predicted = '{route="/tensorflow.serving.PredictionService/Predict"} 1.0'
    assert f"underwriting_request_records_count{predicted}" in metrics
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("request_id") == "launcher-triton-1"]
    assert logged and logged[0]["protocol"] == "grpc" and logged[0]["records"] == 7
    assert KEY not in log.read_text()


def _load(
    address: str,
    features: list[dict[str, Any]],
    stop: threading.Event,
    statuses: dict[str, grpc.StatusCode],
    retried: list[int],
) -> list[threading.Thread]:
    """THREADS clients, each on a connection of its own, sending single-record requests; a
    call refused as UNAVAILABLE or CANCELLED (its connection's worker gone) is sent again, as
    clients of a service whose request ids make retries safe do."""
    columns = applicant_columns(64, seed=5)
    lock = threading.Lock()

    def client(k: int) -> None:
        # A connection of its own (the kernel gives each to one worker), as separate clients.
        stock = triton.InferenceServerClient(address, channel_args=OWN_CONNECTION)
        n = 0
        while not stop.is_set():
            request_id, n = f"load-{k}-{n}", n + 1
            row = {name: values[n % 64 : n % 64 + 1] for name, values in columns.items()}
            for _ in range(RETRIES):  # the same id: a retry is answered once, recorded once
                try:
                    stock.infer(
                        "underwriting",
                        triton_inputs(row, features),
                        headers={"x-request-id": request_id},
                        client_timeout=30,
                    )
                    status = grpc.StatusCode.OK
                except triton.InferenceServerException as failed:
                    status = getattr(grpc.StatusCode, str(failed.status()).split(".")[-1])
                if status not in RETRIED or stop.is_set():
                    break
                with lock:
                    retried[0] += 1
                time.sleep(0.05)
            with lock:
                statuses[request_id] = status
        stock.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    return threads


def _recorded(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [str(row[0]) for row in connection.execute("SELECT request_id FROM decisions")]


def test_a_worker_killed_under_grpc_load_loses_no_acknowledged_decision(
    repository: Path, tmp_path: Path
) -> None:
    database = tmp_path / "decisions.sqlite3"
    grpc_port = free_port()
    features = declared_features(repository)
    statuses: dict[str, grpc.StatusCode] = {}
    retried = [0]
    with served(
        repository,
        tmp_path / "service.log",
        grpc_port=str(grpc_port),
        decisions_database=str(database),
    ) as (_, process):
        stop = threading.Event()
        threads = _load(f"127.0.0.1:{grpc_port}", features, stop, statuses, retried)
        try:
            time.sleep(2.0)
            victim = gunicorn_workers(process.pid)[0]
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while len(set(gunicorn_workers(process.pid)) - {victim}) < 2:
                assert time.monotonic() < deadline, "no replacement worker"
                time.sleep(0.05)
            time.sleep(3.0)  # the clients reconnect; the replacement serves gRPC too
            answered = len(statuses)
            time.sleep(1.0)
            assert len(statuses) > answered
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    acknowledged = {rid for rid, status in statuses.items() if status == grpc.StatusCode.OK}
    failed = {rid: status for rid, status in statuses.items() if status != grpc.StatusCode.OK}
    recorded = _recorded(database)
    print(f"\n{len(statuses)} requests, {len(acknowledged)} OK, {retried[0]} retries, {failed}")
    assert len(acknowledged) > 200
    assert acknowledged <= set(recorded)
    assert len(recorded) == len(set(recorded))  # a retried request is recorded once
    # A retry outlasts the reconnection: only a request cut by the end of the test can fail.
    assert len(failed) <= THREADS and set(failed.values()) <= RETRIED


def test_sigterm_under_grpc_load_drains_health_first_and_loses_nothing_acknowledged(
    repository: Path, tmp_path: Path
) -> None:
    database = tmp_path / "decisions.sqlite3"
    port, grpc_port = free_port(), free_port()
    log = tmp_path / "service.log"
    process = start_service(
        repository,
        port,
        log,
        grpc_port=str(grpc_port),
        decisions_database=str(database),
        drain_seconds="2",
    )
    address = f"127.0.0.1:{grpc_port}"
    statuses: dict[str, grpc.StatusCode] = {}
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout=120.0)
        threads = _load(address, declared_features(repository), stop, statuses, [0])
        time.sleep(1.5)
        assert health_status(address) == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # draining: still answering, no longer serving
        assert health_status(address) == health_pb2.HealthCheckResponse.NOT_SERVING
        answered = len(statuses)
        time.sleep(0.5)
        assert len(statuses) > answered  # calls are still served while draining
        assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        stop.set()
        stop_service(process)
    for thread in threads:
        thread.join(timeout=60)
    acknowledged = {rid for rid, status in statuses.items() if status == grpc.StatusCode.OK}
    assert len(acknowledged) > 100
    assert acknowledged <= set(_recorded(database))
    failed = {status for status in statuses.values() if status != grpc.StatusCode.OK}
    # Calls the stopping servers never started: refused, or cancelled while still queued.
    assert failed <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, failed
