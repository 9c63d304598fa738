"""The same record gets the same prediction from the training pipeline and from the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
from service_support import applicant_columns

from contract.dtypes import numpy_dtype
from training.features import FEATURES
from training.guidelines import COVERAGE_CAP
from training.networks import inputs_of
from training.outputs import COVERAGE_SCALE
from training.preprocessing import Preprocessor


def training_side(version_dir: Path, columns: dict[str, list[Any]]) -> np.ndarray:
    """Score raw columns the way training does: its preprocessing, then the Keras network."""
    arrays = {f.name: np.asarray(columns[f.name], dtype=numpy_dtype(f.type)) for f in FEATURES}
    encoded = Preprocessor.load(version_dir).encode_numpy(arrays)
    network = keras.saving.load_model(version_dir / "model.keras", compile=False)
    return np.asarray(network(inputs_of(network, encoded), training=False), dtype=np.float64)


def test_service_predictions_equal_the_training_pipeline(
    client: Any, service_models_dir: Path
) -> None:
    columns = applicant_columns(rows=64, seed=99)
    response = client.post("/v1/models/underwriting:predict", json={"inputs": columns})
    assert response.status_code == 200
    outputs = response.get_json()["outputs"]
    probabilities = training_side(service_models_dir / "risk_class" / "1", columns)
    scaled = training_side(service_models_dir / "max_coverage" / "1", columns)[:, 0]
    coverage = np.clip(scaled * COVERAGE_SCALE, 0.0, COVERAGE_CAP)
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(outputs["max_coverage"], coverage, rtol=1e-4, atol=0.5)
    names = ["standard", "substandard", "decline"]
    assert outputs["risk_class"] == [names[i] for i in probabilities.argmax(axis=1)]
