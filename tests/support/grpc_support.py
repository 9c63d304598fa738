"""gRPC in the tests: a real server over a dataplane of its own, and Triton's client's tensors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from service_support import TEST_MAX_RECORDS

# The V2 datatype a client sends each declared feature type as.
DATATYPES = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "category": "BYTES"}


def triton_inputs(columns: dict[str, list[Any]], features: list[dict[str, Any]]) -> list[Any]:
    """One InferInput per feature, its values as raw bytes (as Triton's client sends them)."""
    import tritonclient.grpc as triton

    inputs = []
    for feature in features:
        kind = object if feature["type"] == "category" else None
        values = np.asarray(columns[feature["name"]], dtype=kind)
        tensor = triton.InferInput(feature["name"], [len(values)], DATATYPES[feature["type"]])
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    return inputs


@contextmanager
def grpc_server(
    app: Any, dataplane_class: Any = None, limits: Any = None, **settings: Any
) -> Iterator[Any]:
    """A started gRPC server on a free loopback port over a new dataplane on the app's models
    and decision record (`settings` add SERVICE_* settings, e.g. api_keys); stopped after."""
    from service.api_keys import configured_keys
    from service.app import STORE_KEY, build_recorder
    from service.dataplane import Dataplane
    from service.grpc_api.server import Limits, build_server
    from service.settings import Settings

    store = app.extensions[STORE_KEY]
    configured = Settings(models_dir=store.models_dir, max_records=TEST_MAX_RECORDS, **settings)
    dataplane = (dataplane_class or Dataplane)(
        store, TEST_MAX_RECORDS, recorder=build_recorder(configured)
    )
    served = build_server(dataplane, "127.0.0.1:0", limits or Limits(), configured_keys(configured))
    served.start()
    try:
        yield served
    finally:
        served.stop(grace=None)
