"""Export a fitted network with its preprocessing: a SavedModel, and the same model for LiteRT.

The SavedModel's signature takes raw columns (TensorFlow Serving clients send those); the LiteRT
model's takes the packed records (contract.packing) and is converted with TensorFlow's own
converter, built-in operations only, so the service can run it without TensorFlow.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from contract.explanations import ALPHAS_INPUT, EXPLAIN_LITERT_FILE, EXPLAIN_SIGNATURE
from contract.metadata import LITERT_FILE, SAVED_MODEL_DIR, SIGNATURE_NAME
from training.explain import Explainer
from training.networks import inputs_of
from training.packing import input_signature, pack_tensors, packed_signature
from training.preprocessing import Preprocessor

# Turns the network's output into the signature's named outputs (in the units clients see).
ServeOutputs = Callable[[tf.Tensor], dict[str, tf.Tensor]]
_ALPHAS = tf.TensorSpec([None], tf.float32, name=ALPHAS_INPUT)


def export_saved_model(
    model: keras.Model,
    preprocessor: Preprocessor,
    outputs: ServeOutputs,
    directory: Path,
    explainer: Explainer | None = None,
) -> None:
    """Write `directory/saved_model`: raw columns in; an explain signature if there is one."""

    def serve(columns: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return outputs(model(inputs_of(model, preprocessor.encode(columns)), training=False))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE_NAME, fn=serve, input_signature=[input_signature()])
    if explainer is not None:

        def explain(columns: dict[str, tf.Tensor], alphas: tf.Tensor) -> dict[str, tf.Tensor]:
            return explainer.explain(*pack_tensors(columns), alphas)

        archive.add_endpoint(
            name=EXPLAIN_SIGNATURE, fn=explain, input_signature=[input_signature(), _ALPHAS]
        )
    archive.write_out(str(directory / SAVED_MODEL_DIR), verbose=False)


def export_litert(
    model: keras.Model, preprocessor: Preprocessor, outputs: ServeOutputs, directory: Path
) -> Path:
    """Write `directory/model.tflite`: the same model over packed records, LiteRT built-ins only."""

    def serve(numbers: tf.Tensor, categories: tf.Tensor) -> dict[str, tf.Tensor]:
        encoded = preprocessor.encode_packed(numbers, categories)
        return outputs(model(inputs_of(model, encoded), training=False))

    return _convert(model, SIGNATURE_NAME, serve, packed_signature(), directory / LITERT_FILE)


def export_explain_litert(model: keras.Model, explainer: Explainer, directory: Path) -> Path:
    """Write `directory/explain.tflite`: the explain signature over packed records and alphas."""
    signature = [*packed_signature(), _ALPHAS]
    path = directory / EXPLAIN_LITERT_FILE
    return _convert(model, EXPLAIN_SIGNATURE, explainer.explain, signature, path)


def _convert(
    model: keras.Model, name: str, function: Callable[..., Any], signature: list[Any], path: Path
) -> Path:
    """Convert one endpoint to a LiteRT file of built-in ops."""
    # Through Keras's export archive, so that the converter freezes the network's variables
    # into constants (a plain tf.Module leaves READ_VARIABLE ops LiteRT cannot initialise).
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=name, fn=function, input_signature=signature)
    with tempfile.TemporaryDirectory(prefix="litert-") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, [name])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex ops
        converted = converter.convert()
    path.write_bytes(converted)
    return path
