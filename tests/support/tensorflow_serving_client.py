"""A TensorFlow Serving client as one is written: generated stubs, TensorFlow's tensors."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np


def predict_request(
    columns: dict[str, list[Any]], features: list[dict[str, Any]], model: str = "underwriting"
) -> Any:
    """A PredictRequest as a TF Serving client builds it: one tensor per feature (numbers as
    doubles, which REST's JSON carries; Python's ints and strings as TensorFlow makes them)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    for feature in features:
        values: Any = columns[feature["name"]]
        if feature["type"] == "number":
            values = np.asarray(values, np.float64)
        request.inputs[feature["name"]].CopyFrom(tf.make_tensor_proto(values))
    return request


def predict(
    address: str,
    columns: dict[str, list[Any]],
    features: list[dict[str, Any]],
    metadata: dict[str, str],
) -> tuple[Any, dict[str, str]]:
    """Predict one tensor per feature; return the response's outputs and trailing metadata."""
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response, call = stub.Predict.with_call(
            predict_request(columns, features), metadata=tuple(metadata.items()), timeout=30
        )
    return response.outputs, dict(call.trailing_metadata())
