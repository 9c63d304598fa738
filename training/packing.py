"""Records as the exports take them: raw signature columns, or packed numbers and indices.

The SavedModel's signature takes one raw tensor per feature (TensorFlow Serving clients send
those) and packs them in its graph; the LiteRT export takes the packed records the service sends
(contract.packing). Training packs its numpy columns the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from contract.dtypes import TENSOR_DTYPE_BY_FEATURE_TYPE, numpy_dtype
from contract.features import Feature
from contract.packing import PackedLayout
from training.features import FEATURES

LAYOUT = PackedLayout.of(FEATURES)


def input_signature(features: tuple[Feature, ...] = FEATURES) -> dict[str, tf.TensorSpec]:
    """Return the SavedModel serving signature: one [N] tensor per feature, keyed by name."""
    return {f.name: tf.TensorSpec([None], _tensor_dtype(f), name=f.name) for f in features}


def packed_signature() -> list[tf.TensorSpec]:
    """Return the LiteRT signature: packed numbers and category indices."""
    return [
        tf.TensorSpec([None, len(LAYOUT.numbers)], tf.float32, name="numbers"),
        tf.TensorSpec([None, len(LAYOUT.categories)], tf.int32, name="categories"),
    ]


def _tensor_dtype(feature: Feature) -> tf.DType:
    return tf.dtypes.as_dtype(TENSOR_DTYPE_BY_FEATURE_TYPE[feature.type])


def pack_numpy(columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pack numpy feature columns as the service packs validated records."""
    numbers = np.stack([np.asarray(columns[n], dtype=np.float32) for n in LAYOUT.numbers], axis=1)
    indices = [_indices(np.asarray(columns[n]), vocabulary) for n, vocabulary in LAYOUT.categories]
    return numbers, np.stack(indices, axis=1)


def _indices(values: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Each value's position in the vocabulary; -1 for one that is not in it."""
    out = np.full(len(values), -1, dtype=np.int32)
    for index, category in enumerate(vocabulary):
        out[values == category] = index
    return out


def pack_tensors(columns: Mapping[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """Pack raw signature tensors in the graph; an undeclared category becomes index -1."""
    numbers = tf.stack([tf.cast(columns[name], tf.float32) for name in LAYOUT.numbers], axis=1)
    indices = []
    for name, vocabulary in LAYOUT.categories:
        matches = tf.equal(tf.expand_dims(columns[name], 1), tf.constant(vocabulary))
        found = tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32)
        # -1: the preprocessing rates an unknown directed category as its worst level (the
        # service's validation refuses it before it gets here).
        indices.append(tf.where(tf.reduce_any(matches, axis=1), found, -1))
    return numbers, tf.stack(indices, axis=1)


def to_tensors(columns: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    """Convert numpy feature columns to tensors of the SavedModel signature's dtypes."""
    return {
        f.name: tf.constant(
            np.asarray(columns[f.name], dtype=numpy_dtype(f.type)), _tensor_dtype(f)
        )
        for f in FEATURES
    }
