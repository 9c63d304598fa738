"""The `underwriting` composite through Triton's stock gRPC client (docs/api.md)."""

import json
import sys

import numpy as np
import tritonclient.grpc as triton

client = triton.InferenceServerClient(url=sys.argv[1] if len(sys.argv) > 1 else "localhost:8081")
# The API key, when the service requires keys (SERVICE_API_KEYS).
headers = {"authorization": f"Bearer {sys.argv[2]}"} if len(sys.argv) > 2 else {}
with open("examples/applicant.json", encoding="utf-8") as file:
    applicant = json.load(file)

inputs = []
for spec in client.get_model_metadata("underwriting", headers=headers).inputs:
    if spec.name not in applicant:
        continue  # requested_coverage: send it only when the applicant names an amount
    dtype = object if spec.datatype == "BYTES" else None
    tensor = triton.InferInput(spec.name, [1], spec.datatype)
    tensor.set_data_from_numpy(np.array([applicant[spec.name]], dtype=dtype))
    inputs.append(tensor)
result = client.infer("underwriting", inputs, headers=headers | {"x-request-id": "app-2026-000421"})
print(
    result.as_numpy("risk_class"), result.as_numpy("probabilities"), result.as_numpy("max_coverage")
)
print(json.loads(result.as_numpy("decision")[0]))
print(result.get_response().parameters["request_id"].string_param)
