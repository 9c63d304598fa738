"""The Open Inference Protocol over gRPC: stock clients, the same answers as V2 REST.

A real grpc server on a free loopback port serves the session's models through a dataplane of
its own (the same store, the same decision record as the REST app), and Triton's stock gRPC
client, or the protocol's generated stub, talks to it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from api_support import v2_request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import grpc_server, triton_inputs
from prometheus_client import REGISTRY
from service_support import TEST_MAX_RECORDS, applicant_columns, declared_features
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from service.callers import key_id
from service.dataplane import Dataplane
from service.grpc_api.server import Limits
from service.grpc_api.status import DETAILS_KEY

ROWS = 6


@pytest.fixture(scope="module")
def grpc_address(app: Any) -> Iterator[str]:
    with grpc_server(app, limits=Limits(max_message_bytes=1 << 20)) as served:
        yield f"127.0.0.1:{served.port}"


@pytest.fixture(scope="module")
def stub(grpc_address: str) -> Iterator[Any]:
    with grpc.insecure_channel(grpc_address) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


@pytest.fixture(scope="module")
def columns(service_models_dir: Any) -> dict[str, list[Any]]:
    return applicant_columns(ROWS, seed=17)


def _rest(
    client: Any, columns: dict[str, list[Any]], features: list[dict[str, Any]]
) -> dict[str, Any]:
    response = client.post("/v2/models/underwriting/infer", json=v2_request(columns, features))
    assert response.status_code == 200, response.get_json()
    return {output["name"]: output["data"] for output in response.get_json()["outputs"]}


def test_health_and_metadata_answer_as_v2_rest(
    grpc_address: str, client: Any, service_models_dir: Any
) -> None:
    stock = triton.InferenceServerClient(grpc_address)
    assert stock.is_server_live() and stock.is_server_ready()
    assert stock.is_model_ready("underwriting") and stock.is_model_ready("risk_class", "1")
    assert stock.get_server_metadata().name == "underwriting-model-service"
    rest = client.get("/v2/models/underwriting").get_json()
    described = stock.get_model_metadata("underwriting")
    assert [(t.name, t.datatype) for t in described.inputs] == [
        (t["name"], t["datatype"]) for t in rest["inputs"]
    ]
    assert [t.name for t in described.outputs] == [t["name"] for t in rest["outputs"]]
    assert described.platform == rest["platform"]


def test_triton_clients_raw_tensors_get_the_rest_answer(
    grpc_address: str, client: Any, columns: dict[str, list[Any]], service_models_dir: Any
) -> None:
    features = declared_features(service_models_dir)
    stock = triton.InferenceServerClient(grpc_address)
    result = stock.infer(
        "underwriting", triton_inputs(columns, features), headers={"x-request-id": "grpc-raw-1"}
    )
    rest = _rest(client, columns, features)
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), np.asarray(rest["probabilities"]).reshape(ROWS, 3)
    )
    np.testing.assert_allclose(result.as_numpy("max_coverage"), rest["max_coverage"])
    assert [v.decode() for v in result.as_numpy("risk_class")] == rest["risk_class"]
    decisions = [json.loads(v) for v in result.as_numpy("decision")]
    assert decisions == [json.loads(v) for v in rest["decision"]]
    response = result.get_response()
    assert response.parameters["request_id"].string_param == "grpc-raw-1"
    # Recorded under its request id, like any decision: readable over REST.
    recorded = client.get("/v1/decisions/grpc-raw-1").get_json()["decisions"]
    assert [r["decision"] for r in recorded] == decisions


def test_typed_contents_are_read_as_raw_bytes_are(
    stub: Any, client: Any, columns: dict[str, list[Any]], service_models_dir: Any
) -> None:
    features = declared_features(service_models_dir)
    request = pb.ModelInferRequest(model_name="underwriting")
    request.parameters["explain"].bool_param = False
    fields = {"INT64": "int64_contents", "FP64": "fp64_contents", "BOOL": "bool_contents"}
    for tensor in v2_request(columns, features)["inputs"]:
        added = request.inputs.add(
            name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
        )
        if tensor["datatype"] == "BYTES":
            added.contents.bytes_contents.extend(value.encode() for value in tensor["data"])
        else:
            getattr(added.contents, fields[tensor["datatype"]]).extend(tensor["data"])
    response, call = stub.ModelInfer.with_call(request)
    outputs = {output.name: output for output in response.outputs}
    rest = _rest(client, columns, features)
    np.testing.assert_allclose(
        list(outputs["max_coverage"].contents.fp32_contents), rest["max_coverage"]
    )
    assert [v.decode() for v in outputs["risk_class"].contents.bytes_contents] == rest["risk_class"]
    request_id = dict(call.trailing_metadata())["x-request-id"]
    assert response.parameters["request_id"].string_param == request_id
    assert json.loads(response.parameters["model_versions"].string_param)["underwriting_policy"]


@pytest.mark.parametrize(
    ("sex_raw", "reason"),
    [
        (b"\x06\x00\x00", "raw BYTES end inside a length prefix"),
        (b"\x06\x00\x00\x00fem", "raw BYTES end inside a value"),
        (b"\x02\x00\x00\x00\xff\xfe" * 2, "BYTES values must be UTF-8 text"),
        (b"\x04\x00\x00\x00male" * (TEST_MAX_RECORDS + 1), "more than the"),
    ],
)
def test_raw_bytes_values_are_framed_and_counted(
    stub: Any, columns: dict[str, list[Any]], service_models_dir: Any, sex_raw: bytes, reason: str
) -> None:
    request = pb.ModelInferRequest(model_name="underwriting")
    for tensor in triton_inputs(columns, declared_features(service_models_dir)):
        request.inputs.append(tensor._get_tensor())
        raw = tensor._get_content()
        request.raw_input_contents.append(sex_raw if tensor.name() == "sex" else raw)
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'sex'" in refused.value.details() and reason in refused.value.details()


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        ({"model_name": "nobody"}, grpc.StatusCode.NOT_FOUND, "nobody"),
        ({"model_version": "x"}, grpc.StatusCode.INVALID_ARGUMENT, "model_version"),
        ({"age_datatype": "FP64"}, grpc.StatusCode.INVALID_ARGUMENT, "age"),
        ({"sex": "F"}, grpc.StatusCode.INVALID_ARGUMENT, "sex"),
        ({"age_in": "fp64_contents"}, grpc.StatusCode.INVALID_ARGUMENT, "age"),
        ({"raw_extra": b"\x00"}, grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents"),
        ({"age_datatype": "FP16"}, grpc.StatusCode.INVALID_ARGUMENT, "age"),
        ({"sex": b"\xff"}, grpc.StatusCode.INVALID_ARGUMENT, "UTF-8"),
    ],
)
def test_bad_requests_get_a_precise_status_naming_the_field(
    stub: Any,
    columns: dict[str, list[Any]],
    service_models_dir: Any,
    change: dict[str, Any],
    code: grpc.StatusCode,
    named: str,
) -> None:
    features = declared_features(service_models_dir)
    request = pb.ModelInferRequest(
        model_name=change.get("model_name", "underwriting"),
        model_version=change.get("model_version", ""),
    )
    fields = {"INT64": "int64_contents", "FP64": "fp64_contents", "BOOL": "bool_contents"}
    for tensor in v2_request(columns, features)["inputs"]:
        name, datatype, data = tensor["name"], tensor["datatype"], tensor["data"]
        if name == "age" and "age_datatype" in change:
            datatype, data = change["age_datatype"], [float(v) for v in data]
        if name == "sex" and "sex" in change:
            data = [change["sex"]] * len(data)
        added = request.inputs.add(name=name, datatype=datatype, shape=tensor["shape"])
        if datatype == "BYTES":
            added.contents.bytes_contents.extend(
                value if isinstance(value, bytes) else value.encode() for value in data
            )
        elif datatype not in fields:
            added.contents.fp32_contents.extend(data)
        else:
            field = change["age_in"] if name == "age" and "age_in" in change else fields[datatype]
            getattr(added.contents, field).extend(
                float(v) if field.startswith("fp") else v for v in data
            )
    if "raw_extra" in change:
        request.raw_input_contents.append(change["raw_extra"])
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(request)
    assert refused.value.code() == code
    assert named in refused.value.details()
    details = dict(refused.value.trailing_metadata())[DETAILS_KEY]
    assert isinstance(json.loads(details), dict)


def test_a_message_over_the_limit_is_resource_exhausted(stub: Any) -> None:
    request = pb.ModelInferRequest(model_name="underwriting")
    request.inputs.add(name="sex", datatype="BYTES", shape=[1])
    request.raw_input_contents.append(b"x" * (2 << 20))  # the server takes 1 MiB
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(request)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_an_unexpected_failure_is_internal_and_says_nothing_of_it(
    app: Any, columns: dict[str, list[Any]], service_models_dir: Any
) -> None:
    class Failing(Dataplane):
        def infer(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("age 45 broke it")  # what a bug's message may hold

    with grpc_server(app, Failing) as served:
        stock = triton.InferenceServerClient(f"127.0.0.1:{served.port}")
        features = declared_features(service_models_dir)
        with pytest.raises(triton.InferenceServerException) as failed:
            stock.infer("underwriting", triton_inputs(columns, features))
        assert failed.value.status() == "StatusCode.INTERNAL"
        assert "45" not in failed.value.message() and "Internal error" in failed.value.message()


@pytest.fixture(scope="module")
def keyed_address(app: Any) -> Iterator[str]:
    """A server requiring keys: `reader-key` reads every caller's decisions."""
    keys = {
        "api_keys": "caller-key,reader-key,underwriter-key",
        "decision_readers": key_id("reader-key"),
        "api_key_roles": f"{key_id('underwriter-key')}=underwriter:alice",
    }
    with grpc_server(app, **keys) as served:
        yield f"127.0.0.1:{served.port}"


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer wrong-key"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("x-api-key", "wrong-key"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer caller-key"),), grpc.StatusCode.OK),
        ((("x-api-key", "caller-key"),), grpc.StatusCode.OK),
    ],
)
def test_keys_come_from_authorization_or_x_api_key_metadata(
    keyed_address: str, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode
) -> None:
    with grpc.insecure_channel(keyed_address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        live = stub.ServerLive(pb.ServerLiveRequest())  # open, as REST's health routes
        assert live.live
        try:
            stub.ModelMetadata(pb.ModelMetadataRequest(name="underwriting"), metadata=metadata)
            answered = grpc.StatusCode.OK
        except grpc.RpcError as refused:
            answered = refused.code()
            assert "API key" in refused.details() and "wrong-key" not in refused.details()
            assert json.loads(dict(refused.trailing_metadata())[DETAILS_KEY]) == {
                "authorization": [refused.details().split(":")[0] + "."]
            }
        assert answered == code


def test_a_call_without_a_valid_key_is_refused_before_its_message_is_decoded(
    keyed_address: str,
) -> None:
    garbage = b"\xff" * 64  # not a ModelInferRequest: decoded, it would be INVALID_ARGUMENT
    with grpc.insecure_channel(keyed_address) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        for metadata, code in [
            ((), grpc.StatusCode.UNAUTHENTICATED),
            ((("x-api-key", "wrong-key"),), grpc.StatusCode.UNAUTHENTICATED),
            ((("x-api-key", "caller-key"),), grpc.StatusCode.INVALID_ARGUMENT),
        ]:
            with pytest.raises(grpc.RpcError) as refused:
                infer(garbage, metadata=metadata, timeout=10)
            assert refused.value.code() == code, metadata


def test_an_underwriter_s_key_reads_metadata_and_does_not_predict(keyed_address: str) -> None:
    garbage = b"\xff" * 64  # refused for the key's role before it is decoded
    metadata = (("x-api-key", "underwriter-key"),)
    with grpc.insecure_channel(keyed_address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        read = stub.ModelMetadata(pb.ModelMetadataRequest(name="underwriting"), metadata=metadata)
        assert read.name == "underwriting"
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        with pytest.raises(grpc.RpcError) as refused:
            infer(garbage, metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "'alice'" in refused.value.details() and "underwriter" in refused.value.details()


def test_a_stream_method_needs_a_key_too(keyed_address: str) -> None:
    with grpc.insecure_channel(keyed_address) as channel:
        stream = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")
        for metadata, code in [
            ((), grpc.StatusCode.UNAUTHENTICATED),
            ((("x-api-key", "caller-key"),), grpc.StatusCode.UNIMPLEMENTED),
        ]:
            with pytest.raises(grpc.RpcError) as refused:
                list(stream(iter([b""]), metadata=metadata, timeout=10))
            assert refused.value.code() == code, metadata


def test_a_key_records_its_decisions_and_reads_only_its_own(
    keyed_address: str, columns: dict[str, list[Any]], service_models_dir: Any, client: Any
) -> None:
    stock = triton.InferenceServerClient(keyed_address)
    features = declared_features(service_models_dir)
    stock.infer(
        "underwriting",
        triton_inputs(columns, features),
        headers={"x-api-key": "caller-key", "x-request-id": "grpc-keyed-1"},
    )
    recorded = client.get("/v1/decisions/grpc-keyed-1").get_json()["decisions"]
    assert {r["key_id"] for r in recorded} == {key_id("caller-key")}


def test_a_call_past_its_deadline_is_neither_decided_nor_recorded(
    app: Any, client: Any, columns: dict[str, list[Any]], service_models_dir: Any
) -> None:
    class Slow(Dataplane):
        def _valid(self, *args: Any, **kwargs: Any) -> Any:
            time.sleep(0.5)  # validation outlasts the caller's deadline
            return super()._valid(*args, **kwargs)

    with grpc_server(app, Slow) as served:
        stock = triton.InferenceServerClient(f"127.0.0.1:{served.port}")
        features = declared_features(service_models_dir)
        with pytest.raises(triton.InferenceServerException) as late:
            stock.infer(
                "underwriting",
                triton_inputs(columns, features),
                headers={"x-request-id": "grpc-late-1"},
                client_timeout=0.2,
            )
        assert late.value.status() == "StatusCode.DEADLINE_EXCEEDED"
        time.sleep(0.6)  # the server's side of the call has ended
        assert client.get("/v1/decisions/grpc-late-1").status_code == 404
        # In time, the same request is decided and recorded.
        stock.infer(
            "underwriting",
            triton_inputs(columns, features),
            headers={"x-request-id": "grpc-late-1"},
            client_timeout=10,
        )
        assert client.get("/v1/decisions/grpc-late-1").status_code == 200


def test_health_answers_for_the_server_its_services_and_each_model(grpc_address: str) -> None:
    with grpc.insecure_channel(grpc_address) as channel:
        health = health_pb2_grpc.HealthStub(channel)

        def status(service: str) -> Any:
            return health.Check(health_pb2.HealthCheckRequest(service=service)).status

        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", "inference.GRPCInferenceService", "underwriting", "risk_class"):
            assert status(service) == serving, service
        with pytest.raises(grpc.RpcError) as unknown:
            status("nobody")
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        watched = health.Watch(health_pb2.HealthCheckRequest(service="risk_class"), timeout=5)
        assert next(watched).status == serving
        watched.cancel()


def test_each_call_is_counted_by_status_and_logged_without_values(
    grpc_address: str, columns: dict[str, list[Any]], service_models_dir: Any, capfd: Any
) -> None:
    def handled(method: str, code: str) -> float:
        labels = {
            "grpc_service": "inference.GRPCInferenceService",
            "grpc_method": method,
            "grpc_code": code,
        }
        return REGISTRY.get_sample_value("underwriting_grpc_server_handled_total", labels) or 0.0

    before_ok, before_bad = handled("ModelInfer", "OK"), handled("ModelInfer", "NOT_FOUND")
    stock = triton.InferenceServerClient(grpc_address)
    features = declared_features(service_models_dir)
    capfd.readouterr()
    stock.infer(
        "underwriting", triton_inputs(columns, features), headers={"x-request-id": "grpc-log-1"}
    )
    with pytest.raises(triton.InferenceServerException):
        stock.infer("nobody", triton_inputs(columns, features))
    assert handled("ModelInfer", "OK") == before_ok + 1
    assert handled("ModelInfer", "NOT_FOUND") == before_bad + 1
    lines = [
        json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")
    ]
    logged = next(line for line in lines if line.get("request_id") == "grpc-log-1")
    assert logged["protocol"] == "grpc" and logged["grpc_code"] == "OK"
    assert logged["route"] == "/inference.GRPCInferenceService/ModelInfer"
    assert logged["records"] == ROWS and logged["client"] == "127.0.0.1"
    values = {str(v) for column in columns.values() for v in column}
    assert not values & {str(v) for v in logged.values()}
    assert any(line.get("grpc_code") == "NOT_FOUND" for line in lines)


def test_work_after_a_call_runs_on_a_thread_of_its_own(
    app: Any, columns: dict[str, list[Any]], service_models_dir: Any
) -> None:
    """The shadow's work, deferred by the dataplane, never runs on grpc's polling thread."""
    ran_on: list[str] = []

    class Deferring(Dataplane):
        def infer(self, *args: Any, **kwargs: Any) -> Any:
            prediction = super().infer(*args, **kwargs)
            defer = args[4] if len(args) > 4 else kwargs["defer"]
            defer(lambda: ran_on.append(threading.current_thread().name))
            return prediction

    with grpc_server(app, Deferring) as served:
        stock = triton.InferenceServerClient(f"127.0.0.1:{served.port}")
        stock.infer("underwriting", triton_inputs(columns, declared_features(service_models_dir)))
        deadline = time.monotonic() + 10
        while not ran_on and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ran_on and ran_on[0].startswith("grpc-after-call"), ran_on


@pytest.mark.parametrize("version", ["²", "１", "9" * 5000])
def test_a_version_that_is_not_plain_digits_is_invalid(stub: Any, version: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelReady(pb.ModelReadyRequest(name="risk_class", version=version))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "model_version" in refused.value.details() and len(refused.value.details()) < 300


def test_an_output_asked_for_twice_is_refused(
    stub: Any, columns: dict[str, list[Any]], service_models_dir: Any
) -> None:
    request = pb.ModelInferRequest(model_name="underwriting")
    for tensor in v2_request(columns, declared_features(service_models_dir))["inputs"]:
        added = request.inputs.add(
            name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
        )
        if tensor["datatype"] == "BYTES":
            added.contents.bytes_contents.extend(value.encode() for value in tensor["data"])
        else:
            field = {"INT64": "int64_contents", "FP64": "fp64_contents", "BOOL": "bool_contents"}
            getattr(added.contents, field[tensor["datatype"]]).extend(tensor["data"])
    for _ in range(3):
        request.outputs.add(name="decision")
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than once: decision" in refused.value.details()
