"""The framework floor: a bare Flask endpoint that parses the same JSON and answers small JSON."""

from __future__ import annotations

import json

from flask import Flask, Response, request

app = Flask(__name__, static_folder=None)


@app.post("/v1/models/<name>:predict")
def predict(name: str) -> Response:
    """Parse the body like the service does, skip validation and the model."""
    payload = json.loads(request.get_data())
    body = json.dumps({"predictions": [{"records": len(payload["instances"])}]})
    return Response(body, mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    """Ready as soon as it is up."""
    return Response('{"status":"ready"}', mimetype="application/json")
