"""Malformed gRPC messages over every method: a precise status, never UNKNOWN or INTERNAL.

Thousands of messages, seeded: valid requests with fields replaced, dropped, duplicated or
given the wrong type, datatypes and shapes that do not fit, empty and huge tensors, random
names and versions, and random bytes sent as the message itself. Each must be answered with a
status the client can act on (or OK: a mutation may still be a valid request), and the server
must still answer a valid request afterwards.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_support import grpc_server
from service_support import applicant_columns, declared_features
from tritonclient.grpc import service_pb2 as pb

from service.grpc_api import tf_serving_messages as tfs
from service.grpc_api.server import Limits

MESSAGES = 6_000
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
OIP = "/inference.GRPCInferenceService/"
TFS = "/tensorflow.serving.PredictionService/"
DATATYPES = ["BOOL", "INT64", "INT32", "FP32", "FP64", "BYTES", "FP16", "UINT8", "", "int64"]
CONTENTS = [
    "bool_contents",
    "int64_contents",
    "int_contents",
    "fp32_contents",
    "fp64_contents",
    "bytes_contents",
    "uint_contents",
    "uint64_contents",
]
TF_FIELDS = [
    "float_val",
    "double_val",
    "int_val",
    "int64_val",
    "bool_val",
    "string_val",
    "half_val",
    "uint32_val",
]


@pytest.fixture(scope="module")
def channel(app: Any) -> Iterator[grpc.Channel]:
    with (
        grpc_server(app, limits=Limits(max_message_bytes=1 << 20)) as served,
        grpc.insecure_channel(f"127.0.0.1:{served.port}") as opened,
    ):
        yield opened


def _value(rng: random.Random) -> Any:
    return rng.choice(
        [
            0,
            -1,
            2**62,
            3.5,
            float("nan"),
            float("inf"),
            True,
            "",
            "x" * rng.randint(1, 300),
            "é",
            b"\xff\xfe",
            None,
        ]
    )


def _oip_infer(rng: random.Random, columns: dict[str, list[Any]], features: list[Any]) -> bytes:
    request = pb.ModelInferRequest(
        model_name=rng.choice(
            [
                "underwriting",
                "risk_class",
                "max_coverage",
                "underwriting_policy",
                "",
                "nobody",
                "ü" * 40,
            ]
        ),
        model_version=rng.choice(
            ["", "", "1", "2", "-1", "x", "99999999999999999999", "²", "１", "9" * 5000]
        ),
        id=rng.choice(["", "mine", "z" * 500]),
    )
    raw = rng.random() < 0.3
    count = len(next(iter(columns.values())))
    for feature in features:
        if rng.random() < 0.05:
            continue  # a feature missing
        name = feature["name"] if rng.random() > 0.05 else rng.choice(["", "extra", "age"])
        datatype = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "category": "BYTES"}[
            feature["type"]
        ]
        if rng.random() < 0.1:
            datatype = rng.choice(DATATYPES)
        shape = [count]
        if rng.random() < 0.1:
            shape = rng.choice([[], [0], [count, 1], [-1], [2**40], [count + 1], [1, 1, 1]])
        tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
        values = columns[feature["name"]]
        if rng.random() < 0.05:
            values = values * rng.choice([0, 300])  # empty, or a huge tensor
        if raw:
            request.raw_input_contents.append(rng.randbytes(rng.choice([0, 3, 8, 16, 64])))
        else:
            field = {
                "INT64": "int64_contents",
                "FP64": "fp64_contents",
                "BOOL": "bool_contents",
                "BYTES": "bytes_contents",
            }.get(datatype, rng.choice(CONTENTS))
            if rng.random() < 0.1:
                field = rng.choice(CONTENTS)
            _fill(getattr(tensor.contents, field), field, values, rng)
    if rng.random() < 0.2:
        request.parameters["explain"].string_param = "yes"
    if rng.random() < 0.1:
        request.outputs.add(name=rng.choice(["decision", "premium", "", "o" * 5000]))
    if rng.random() < 0.03:  # one output asked for thousands of times: refused, not encoded
        for _ in range(rng.choice([2, 5_000])):
            request.outputs.add(name="decision")
    if rng.random() < 0.02:  # far more inputs than features
        for k in range(rng.choice([50, 2_000])):
            request.inputs.add(name=f"extra_{k}", datatype="INT64", shape=[1])
    if raw and rng.random() < 0.2:
        request.raw_input_contents.append(b"\x00")
    return request.SerializeToString()


def _fill(target: Any, field: str, values: list[Any], rng: random.Random) -> None:
    """Put the values in the field as its type allows (some replaced at random)."""
    for value in values:
        if rng.random() < 0.02:
            value = _value(rng)
        try:
            if field.startswith("bytes") or field == "string_val":
                target.append(value if isinstance(value, bytes) else str(value).encode())
            elif field.startswith(("fp", "float", "double", "half")):
                target.append(float(value) if not isinstance(value, (str, bytes)) else 0.5)
            elif field.startswith("bool"):
                target.append(bool(value))
            else:
                number = int(value) if isinstance(value, (int, float)) and value == value else 7
                target.append(
                    max(min(number, 2**31 - 1), 0)
                    if "uint" in field or "int_" in field
                    else max(min(number, 2**62), -(2**62))
                )
        except (OverflowError, ValueError, TypeError):
            continue  # a value the field cannot hold: left out (the tensor comes up short)


def _tfs_predict(rng: random.Random, columns: dict[str, list[Any]], features: list[Any]) -> bytes:
    request = tfs.PredictRequest()
    request.model_spec.name = rng.choice(["underwriting", "risk_class", "", "nobody"])
    choice = rng.random()
    if choice < 0.1:
        request.model_spec.version.value = rng.choice([0, 1, -5, 2**62])
    elif choice < 0.15:
        request.model_spec.version_label = rng.choice(["stable", ""])
    if rng.random() < 0.1:
        request.model_spec.signature_name = rng.choice(["predict", "serving_default", "é"])
    dtypes = list(tfs.DATA_TYPES.values())
    for feature in features:
        if rng.random() < 0.05:
            continue
        tensor = request.inputs[feature["name"] if rng.random() > 0.05 else "unknown"]
        natural = {
            "integer": "DT_INT64",
            "number": "DT_DOUBLE",
            "boolean": "DT_BOOL",
            "category": "DT_STRING",
        }[feature["type"]]
        dtype = tfs.DATA_TYPES[natural].number if rng.random() > 0.1 else rng.choice(dtypes).number
        tensor.dtype = dtype
        values = columns[feature["name"]]
        for size in (
            [len(values)] if rng.random() > 0.1 else rng.choice([[], [2, 3], [-1], [2**40]])
        ):
            tensor.tensor_shape.dim.add(size=size)
        if rng.random() < 0.15:
            tensor.tensor_content = rng.randbytes(rng.choice([0, 1, 7, 8, 40, 4000]))
            continue
        field = {
            "DT_INT64": "int64_val",
            "DT_DOUBLE": "double_val",
            "DT_BOOL": "bool_val",
            "DT_STRING": "string_val",
        }[natural]
        if rng.random() < 0.1:
            field = rng.choice(TF_FIELDS)
        if rng.random() < 0.05:
            values = values * rng.choice([0, 300])
        _fill(getattr(tensor, field), field, values, rng)
    if rng.random() < 0.1:
        request.output_filter.append(rng.choice(["decision", "premium"]))
    if rng.random() < 0.03:
        request.output_filter.extend(["risk_class"] * rng.choice([2, 5_000]))
    return request.SerializeToString()


def _small(rng: random.Random, method: str) -> bytes:
    """Metadata, readiness, status and health requests with random names and versions."""
    name = rng.choice(["underwriting", "risk_class", "", "nobody", "é" * 10, "a/b", "x" * 2000])
    version = rng.choice(["", "1", "x", "-3", "²", "１", "7" * 5000])
    if method.startswith(OIP):
        if method.endswith(("ModelReady", "ModelMetadata")):
            return pb.ModelMetadataRequest(name=name, version=version).SerializeToString()
        return b""
    if method.endswith("GetModelMetadata"):
        request = tfs.GetModelMetadataRequest()
        request.model_spec.name = name
        request.metadata_field.extend(rng.choice([[], ["signature_def"], ["other"], ["", "x"]]))
        return request.SerializeToString()
    if method.endswith("GetModelStatus"):
        request = tfs.GetModelStatusRequest()
        request.model_spec.name = name
        if rng.random() < 0.5:
            request.model_spec.version.value = rng.choice([1, 2, -1])
        return request.SerializeToString()
    return health_pb2.HealthCheckRequest(service=name).SerializeToString()


METHODS = [
    OIP + "ServerLive",
    OIP + "ServerReady",
    OIP + "ServerMetadata",
    OIP + "ModelReady",
    OIP + "ModelMetadata",
    OIP + "ModelInfer",
    TFS + "Predict",
    TFS + "GetModelMetadata",
    "/tensorflow.serving.ModelService/GetModelStatus",
    "/grpc.health.v1.Health/Check",
]


def _mutated(message: bytes, rng: random.Random) -> bytes:
    """The message with bytes flipped, cut or appended: often still parseable, often not."""
    data = bytearray(message)
    for _ in range(rng.randint(1, 4)):
        how = rng.random()
        if how < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif how < 0.7 and data:
            del data[rng.randrange(len(data)) :]
        else:
            data += rng.randbytes(rng.randint(1, 12))
    return bytes(data)


def test_thousands_of_malformed_messages_get_statuses_a_client_can_act_on(
    channel: grpc.Channel, service_models_dir: Any
) -> None:
    rng = random.Random(20261207)
    features = declared_features(service_models_dir)
    pool = [applicant_columns(rng.choice([1, 3]), seed=seed) for seed in range(8)]
    calls: dict[str, Callable[..., Any]] = {
        method: channel.unary_unary(method)
        for method in METHODS  # bytes in, bytes out
    }
    codes: Counter[tuple[str, str]] = Counter()
    for i in range(MESSAGES):
        method = METHODS[i % len(METHODS)]
        columns = rng.choice(pool)
        if method.endswith("ModelInfer"):
            message = _oip_infer(rng, columns, features)
        elif method.endswith("Predict"):
            message = _tfs_predict(rng, columns, features)
        else:
            message = _small(rng, method)
        kind = rng.random()
        if kind < 0.15:
            message = _mutated(message, rng)
        elif kind < 0.2:
            message = rng.randbytes(rng.randint(0, 64))
        elif kind < 0.21:
            message = b"\x0a" + b"\xff" * 10 + rng.randbytes(2_000_000)  # over the limit
        try:
            calls[method](message, timeout=30)
            code = grpc.StatusCode.OK
        except grpc.RpcError as refused:
            code = refused.code()
            assert code not in NEVER, (method, refused.details())
            assert refused.details(), method
        codes[(method.rsplit("/", 1)[1], code.name)] += 1
    print(f"\n{MESSAGES} messages: {sorted(codes.items())}")
    assert sum(codes.values()) == MESSAGES
    assert not any(code in {"UNKNOWN", "INTERNAL"} for _, code in codes)
    answered = {code for _, code in codes}
    assert {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED"} <= answered
    ready = calls[OIP + "ServerReady"](b"", timeout=10)
    assert pb.ServerReadyResponse.FromString(ready).ready  # still serving
