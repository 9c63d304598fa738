"""TensorFlow Serving's gRPC API with its stock stubs: the same answers as TF Serving REST.

A real grpc server on a free loopback port serves the session's models; the client is
tensorflow-serving-api's generated stubs with tensors made by TensorFlow's own
`make_tensor_proto`, as a TF Serving client sends them. The server reads the published
messages from its vendored descriptors, without TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_support import grpc_server
from published_protos import VENDORED, differences, published
from service_support import applicant_columns, declared_features
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.apis.classification_pb2 import ClassificationRequest
from tensorflow_serving_client import predict_request

from service.grpc_api.status import DETAILS_KEY

ROWS = 5


@pytest.fixture(scope="module")
def channel(app: Any) -> Iterator[grpc.Channel]:
    with grpc_server(app) as served, grpc.insecure_channel(f"127.0.0.1:{served.port}") as opened:
        yield opened


@pytest.fixture(scope="module")
def prediction(channel: grpc.Channel) -> Any:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def columns(service_models_dir: Path) -> dict[str, list[Any]]:
    return applicant_columns(ROWS, seed=23)


def test_predict_gets_the_rest_answer_and_records_the_decisions(
    prediction: Any, client: Any, columns: dict[str, list[Any]], service_models_dir: Path
) -> None:
    features = declared_features(service_models_dir)
    request = predict_request(columns, features)
    dtypes = {tensor.dtype for tensor in request.inputs.values()}
    assert {tf.int32.as_datatype_enum, tf.string.as_datatype_enum} <= dtypes  # as clients send
    response, call = prediction.Predict.with_call(
        request, metadata=(("x-request-id", "tfs-grpc-1"),)
    )
    rest = client.post(
        "/v1/models/underwriting:predict",
        json={"inputs": {f["name"]: columns[f["name"]] for f in features}},
    ).get_json()["outputs"]
    outputs = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
    np.testing.assert_allclose(outputs["probabilities"], np.asarray(rest["probabilities"]))
    np.testing.assert_allclose(outputs["max_coverage"], rest["max_coverage"], rtol=1e-6)
    assert [v.decode() for v in outputs["risk_class"]] == rest["risk_class"]
    decisions = [json.loads(v) for v in outputs["decision"]]
    assert decisions == rest["decision"]
    trailing = dict(call.trailing_metadata())
    assert trailing["x-request-id"] == "tfs-grpc-1"
    assert json.loads(trailing["x-model-versions"])["underwriting_policy"]
    assert response.model_spec.name == "underwriting"
    recorded = client.get("/v1/decisions/tfs-grpc-1").get_json()["decisions"]
    assert [r["decision"] for r in recorded] == decisions


def test_output_filter_and_tensor_content_are_read(
    prediction: Any, client: Any, columns: dict[str, list[Any]], service_models_dir: Path
) -> None:
    features = declared_features(service_models_dir)
    request = predict_request(columns, features)
    age = request.inputs["age"]
    age.ClearField("int_val")  # the same values as raw little-endian bytes
    age.dtype = tf.int64.as_datatype_enum
    age.tensor_content = np.asarray(columns["age"], "<i8").tobytes()
    request.output_filter.append("risk_class")
    response = prediction.Predict(request)
    assert list(response.outputs) == ["risk_class"]
    assert len(response.outputs["risk_class"].string_val) == ROWS


def test_metadata_and_status_describe_what_serves(
    prediction: Any, channel: grpc.Channel, service_models_dir: Path
) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "risk_class"
    response = prediction.GetModelMetadata(request)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    signature = signatures.signature_def["serving_default"]
    features = declared_features(service_models_dir)
    assert set(signature.inputs) >= {f["name"] for f in features}
    assert signature.inputs["age"].dtype == tf.int64.as_datatype_enum
    assert response.model_spec.version.value == 1
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "risk_class"
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request)
    assert [(s.version, s.state) for s in status.model_version_status] == [
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    ]


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        ("unknown model", grpc.StatusCode.NOT_FOUND, "nobody"),
        ("version label", grpc.StatusCode.NOT_FOUND, "label"),
        ("signature", grpc.StatusCode.INVALID_ARGUMENT, "signature_name"),
        ("half precision age", grpc.StatusCode.INVALID_ARGUMENT, "age"),
        ("column age", grpc.StatusCode.INVALID_ARGUMENT, "age"),
        ("torn tensor_content", grpc.StatusCode.INVALID_ARGUMENT, "age"),
        ("unknown output", grpc.StatusCode.INVALID_ARGUMENT, "premium"),
        ("not UTF-8", grpc.StatusCode.INVALID_ARGUMENT, "sex"),
    ],
)
def test_bad_predictions_get_a_precise_status_naming_the_field(
    prediction: Any,
    columns: dict[str, list[Any]],
    service_models_dir: Path,
    change: str,
    code: grpc.StatusCode,
    named: str,
) -> None:
    request = predict_request(columns, declared_features(service_models_dir))
    if change == "unknown model":
        request.model_spec.name = "nobody"
    elif change == "version label":
        request.model_spec.version_label = "stable"
    elif change == "signature":
        request.model_spec.signature_name = "classify"
    elif change == "half precision age":
        request.inputs["age"].CopyFrom(tf.make_tensor_proto(columns["age"], dtype=tf.float16))
    elif change == "column age":
        request.inputs["age"].CopyFrom(tf.make_tensor_proto([[a] for a in columns["age"]]))
    elif change == "torn tensor_content":
        request.inputs["age"].ClearField("int_val")
        request.inputs["age"].tensor_content = b"\x01\x02\x03"
    elif change == "unknown output":
        request.output_filter.append("premium")
    elif change == "not UTF-8":
        request.inputs["sex"].string_val[0] = b"\xff"
    with pytest.raises(grpc.RpcError) as refused:
        prediction.Predict(request)
    assert refused.value.code() == code
    assert named in refused.value.details()
    assert isinstance(json.loads(dict(refused.value.trailing_metadata())[DETAILS_KEY]), dict)


def test_methods_the_service_does_not_serve_are_unimplemented(prediction: Any) -> None:
    request = ClassificationRequest()
    request.model_spec.name = "risk_class"
    with pytest.raises(grpc.RpcError) as refused:
        prediction.Classify(request)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_the_vendored_descriptors_are_the_published_ones() -> None:
    assert differences(VENDORED.read_bytes(), published()) == []


def test_a_changed_published_message_is_noticed() -> None:
    from google.protobuf import descriptor_pb2

    files = descriptor_pb2.FileDescriptorSet.FromString(VENDORED.read_bytes())
    tensor = next(f for f in files.file if f.name == "tensorflow/core/framework/tensor.proto")
    field = next(f for f in tensor.message_type[0].field if f.name == "int_val")
    field.number += 100
    serving = next(f for f in files.file if f.name == "tensorflow_serving/apis/predict.proto")
    serving.message_type[0].name = "Renamed"
    found = differences(files.SerializeToString(), published())
    assert "tensorflow/core/framework/tensor.proto: message TensorProto changed" in found
    assert "tensorflow_serving/apis/predict.proto: differs" in found
