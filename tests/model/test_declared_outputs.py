"""Outputs come from the artifact: a model that declares one more output is served with it.

The extra output is added the way a model author would: a network exported with one more
signature output and a declaration that names it. No service code knows about it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import pytest
import tensorflow as tf
from service_support import applicant_columns, columns_to_rows

from contract import publication as publish
from contract.artifact import read_artifact
from contract.checksums import metadata_digest
from contract.metadata import LiteRTExport
from contract.outputs import OutputSpec
from training.export import export_litert, export_saved_model
from training.parity import check_parity
from training.preprocessing import Preprocessor
from training.tasks import MaxCoverageTask

EXTRA = OutputSpec(
    "coverage_millions", "float32", (-1,), "Coverage in millions of USD.", minimum=0.0
)


def publish_with_extra_output(source: Path, models_dir: Path) -> None:
    """Re-export a trained max_coverage with one more output, and publish it as version 1."""
    task = MaxCoverageTask()
    network = keras.saving.load_model(source / "model.keras", compile=False)
    preprocessor = Preprocessor.load(source)

    def outputs(network_output: tf.Tensor) -> dict[str, tf.Tensor]:
        served = task.serve(network_output)
        return served | {EXTRA.name: served["max_coverage"] / 1e6}

    staging = publish.staging_directory(models_dir, "max_coverage")
    network.save(staging / "model.keras")
    preprocessor.save(staging)
    export_saved_model(network, preprocessor, outputs, staging)
    export_litert(network, preprocessor, outputs, staging)
    metadata = read_artifact(source, "max_coverage", 1).metadata
    declared_outputs = (*metadata.outputs, EXTRA)
    litert = LiteRTExport.for_features(metadata.features, check_parity(staging, declared_outputs))
    declared = dataclasses.replace(metadata, outputs=declared_outputs, litert=litert, version=None)
    publish.publish(staging, declared)


@pytest.fixture(scope="module")
def extra_client(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    models_dir = tmp_path_factory.mktemp("extra-output")
    shutil.copytree(tiny_models_dir / "risk_class", models_dir / "risk_class")
    shutil.copytree(tiny_models_dir / "underwriting_policy", models_dir / "underwriting_policy")
    publish_with_extra_output(tiny_models_dir / "max_coverage" / "1", models_dir)
    app = create_app(Settings(models_dir=models_dir, reload_interval_seconds=3600))
    store = app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready(), store.not_ready_reason("underwriting")
    yield app.test_client()
    store.stop()


@pytest.fixture(scope="module")
def columns() -> dict[str, list[Any]]:
    return applicant_columns(rows=4, seed=21)


def test_v1_rows_and_columns_carry_the_declared_output(
    extra_client: Any, columns: dict[str, list[Any]]
) -> None:
    url = "/v1/models/underwriting:predict"
    rows = extra_client.post(url, json={"instances": columns_to_rows(columns)}).get_json()
    for prediction in rows["predictions"]:
        assert list(prediction) == [
            "risk_class",
            "probabilities",
            "max_coverage",
            EXTRA.name,
            "decision",
        ]
        assert prediction[EXTRA.name] == pytest.approx(prediction["max_coverage"] / 1e6, rel=1e-5)
    outputs = extra_client.post(url, json={"inputs": columns}).get_json()["outputs"]
    assert outputs[EXTRA.name] == [p[EXTRA.name] for p in rows["predictions"]]


def test_v2_metadata_and_inference_carry_the_declared_output(
    extra_client: Any, columns: dict[str, list[Any]]
) -> None:
    from api_support import v2_request

    metadata = extra_client.get("/v2/models/max_coverage").get_json()
    assert {"name": EXTRA.name, "datatype": "FP32", "shape": [-1]} in metadata["outputs"]
    features = extra_client.get("/v1/models/max_coverage/metadata").get_json()
    assert EXTRA.to_json() in features["metadata"]["outputs"]
    body = v2_request(columns, features["metadata"]["features"])
    response = extra_client.post("/v2/models/max_coverage/infer", json=body).get_json()
    (tensor,) = [o for o in response["outputs"] if o["name"] == EXTRA.name]
    assert tensor["datatype"] == "FP32" and tensor["shape"] == [4]
    only = extra_client.post(
        "/v2/models/underwriting/infer", json=body | {"outputs": [{"name": EXTRA.name}]}
    ).get_json()
    assert [o["name"] for o in only["outputs"]] == [EXTRA.name]


def test_openapi_describes_the_declared_output(extra_client: Any) -> None:
    schemas = extra_client.get("/openapi.json").get_json()["components"]["schemas"]
    described = {"type": "number", "minimum": 0.0, "description": EXTRA.description}
    assert schemas["Prediction"]["properties"][EXTRA.name] == described
    columns = schemas["PredictColumnsResponse"]["properties"]["outputs"]["properties"]
    assert columns[EXTRA.name]["items"] == {"type": "number", "minimum": 0.0}
    tensor = schemas["InferenceResponse"]["properties"]["outputs"]["items"]["properties"]
    assert EXTRA.name in tensor["name"]["enum"]


def test_a_signature_that_lacks_a_declared_output_is_refused(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    from service.app import build_store
    from service.settings import Settings

    source = tiny_models_dir / "max_coverage" / "1"
    metadata = read_artifact(source, "max_coverage", 1).metadata
    staging = publish.staging_directory(tmp_path, "max_coverage")
    for item in source.iterdir():
        if item.name != "metadata.json":
            copy = shutil.copytree if item.is_dir() else shutil.copy2
            copy(item, staging / item.name)
    publish.publish(staging, dataclasses.replace(metadata, outputs=(*metadata.outputs, EXTRA)))
    store = build_store(Settings(models_dir=tmp_path, reload_interval_seconds=3600))
    store.refresh()
    (status,) = store.statuses("max_coverage")
    assert status.state == "END" and "coverage_millions" in status.error


def _as_format_1(version_dir: Path) -> None:
    """Rewrite a version's metadata.json as format 1 published it (and seal it again)."""
    path = version_dir / "metadata.json"
    raw = json.loads(path.read_text())
    raw["format_version"] = 1
    for key in ("derived_outputs", "litert", "explain", "training_ranges", "inputs"):
        raw.pop(key, None)
    raw["outputs"] = [
        {k: o[k] for k in ("name", "dtype", "shape", "description")} for o in raw["outputs"]
    ]
    raw["metadata_sha256"] = metadata_digest(raw)
    path.write_text(json.dumps(raw))


def test_a_version_published_in_format_1_is_still_served(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    from service.app import STORE_KEY, build_store, create_app
    from service.settings import Settings

    for name in ("risk_class", "max_coverage"):
        shutil.copytree(tiny_models_dir / name, tmp_path / name)
        _as_format_1(tmp_path / name / "1")
    shutil.copytree(tiny_models_dir / "underwriting_policy", tmp_path / "underwriting_policy")
    settings = Settings(models_dir=tmp_path, reload_interval_seconds=3600, runtime="tensorflow")
    app = create_app(settings)
    assert app.extensions[STORE_KEY].wait_scanned(120)
    record = columns_to_rows(applicant_columns(rows=1, seed=3))
    client = app.test_client()
    for name, outputs in (
        ("risk_class", ["risk_class", "probabilities"]),
        ("max_coverage", ["max_coverage"]),
    ):
        response = client.post(f"/v1/models/{name}:predict", json={"instances": record})
        assert response.status_code == 200, response.get_json()
        (prediction,) = response.get_json()["predictions"]
        assert list(prediction) == outputs
    # Format 1 had no explain signature: it cannot give an adverse decision's reasons, so the
    # policy does not decide with it (and says why) rather than decide without reasons.
    refused = client.post("/v1/models/underwriting:predict", json={"instances": record})
    assert refused.status_code == 503
    assert "no model has an explain signature" in refused.get_json()["error"]
    app.extensions[STORE_KEY].stop()
    # LiteRT needs the export format 1 never had: refused, saying so.
    store = build_store(Settings(models_dir=tmp_path, reload_interval_seconds=3600))
    store.refresh()
    assert "has no LiteRT export" in store.statuses("risk_class")[0].error
