"""The `underwriting` composite through TensorFlow Serving's stock gRPC stubs (docs/api.md)."""

import json
import sys

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

with open("examples/applicant.json", encoding="utf-8") as file:
    applicant = json.load(file)

request = predict_pb2.PredictRequest()
request.model_spec.name = "underwriting"
for name, value in applicant.items():  # one tensor per feature, as TF Serving REST's columns
    dtype = tf.float64 if isinstance(value, float) else None  # a double as sent, not a float32
    request.inputs[name].CopyFrom(tf.make_tensor_proto([value], dtype=dtype))
metadata = [("x-request-id", "app-2026-000422")]
if len(sys.argv) > 2:  # the API key, when the service requires keys (SERVICE_API_KEYS)
    metadata.append(("authorization", f"Bearer {sys.argv[2]}"))
with grpc.insecure_channel(sys.argv[1] if len(sys.argv) > 1 else "localhost:8081") as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response, call = stub.Predict.with_call(request, metadata=metadata, timeout=10)
outputs = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
print(outputs["risk_class"], outputs["probabilities"], outputs["max_coverage"])
print(json.loads(outputs["decision"][0]))
print(dict(call.trailing_metadata())["x-request-id"])
