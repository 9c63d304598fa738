"""The `underwriting` composite through Triton's stock HTTP client (docs/api.md)."""

import json
import sys

import numpy as np
import tritonclient.http as triton

client = triton.InferenceServerClient(url=sys.argv[1] if len(sys.argv) > 1 else "localhost:8080")
headers = {"Authorization": "Bearer <key>"}  # only if API keys are configured
with open("examples/applicant.json", encoding="utf-8") as file:
    applicant = json.load(file)

inputs = []
for spec in client.get_model_metadata("underwriting", headers=headers)["inputs"]:
    if spec.get("parameters", {}).get("optional"):
        continue  # requested_coverage: send it only when the applicant names an amount
    dtype = object if spec["datatype"] == "BYTES" else None
    tensor = triton.InferInput(spec["name"], [1], spec["datatype"])
    tensor.set_data_from_numpy(np.array([applicant[spec["name"]]], dtype=dtype), binary_data=False)
    inputs.append(tensor)
outputs = [
    triton.InferRequestedOutput(name, binary_data=False)
    for name in ("probabilities", "risk_class", "max_coverage", "decision")
]
result = client.infer(
    "underwriting", inputs, outputs=outputs, headers=headers | {"X-Request-ID": "app-2026-000420"}
)
print(
    result.as_numpy("risk_class"), result.as_numpy("probabilities"), result.as_numpy("max_coverage")
)
print(json.loads(result.as_numpy("decision")[0]))
print(result.get_response()["parameters"]["request_id"])
