"""Export a fitted network with its preprocessing as a SavedModel serving signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from contract.metadata import SAVED_MODEL_DIR, SIGNATURE_NAME
from training.preprocessing import Preprocessor, input_signature

# Turns the network's output into the signature's named outputs (in the units clients see).
ServeOutputs = Callable[[tf.Tensor], dict[str, tf.Tensor]]


def export_saved_model(
    model: keras.Model, preprocessor: Preprocessor, outputs: ServeOutputs, directory: Path
) -> None:
    """Write `directory/saved_model` with one raw-columns-in signature."""

    def serve(columns: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return outputs(model(preprocessor.encode(columns), training=False))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE_NAME, fn=serve, input_signature=[input_signature()])
    archive.write_out(str(directory / SAVED_MODEL_DIR), verbose=False)
