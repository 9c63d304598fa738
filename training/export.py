"""Export a fitted network with its preprocessing as a SavedModel serving signature."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from training.networks import COVERAGE_SCALE
from training.preprocessing import Preprocessor, input_signature

SAVED_MODEL_DIR = "saved_model"
SIGNATURE_NAME = "serving_default"


def _classifier_fn(model: keras.Model, preprocessor: Preprocessor):  # type: ignore[no-untyped-def]
    def serve(columns: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {"probabilities": model(preprocessor.encode(columns), training=False)}

    return serve


def _regressor_fn(model: keras.Model, preprocessor: Preprocessor):  # type: ignore[no-untyped-def]
    def serve(columns: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        scaled = model(preprocessor.encode(columns), training=False)[:, 0]
        # Undo the target transform here, so clients only ever see dollars.
        return {"max_coverage": tf.maximum(scaled * COVERAGE_SCALE, 0.0)}

    return serve


def export_saved_model(
    model: keras.Model, preprocessor: Preprocessor, task: str, directory: Path
) -> None:
    """Write `directory/saved_model` with one raw-columns-in signature."""
    make = _classifier_fn if task == "classification" else _regressor_fn
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE_NAME, fn=make(model, preprocessor), input_signature=[input_signature()]
    )
    archive.write_out(str(directory / SAVED_MODEL_DIR), verbose=False)
