"""Raw applicant columns -> the network's input matrix, written once in TensorFlow ops.

The same `Preprocessor.encode` runs on the training data and inside the exported SavedModel
signature, so a raw record is encoded identically offline and in the service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from training.features import FEATURES, Feature
from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    NET_WORTH_FRACTION,
)

# Signature dtype per declared feature type (the model-repository contract).
TENSOR_DTYPES: dict[str, tf.DType] = {
    "integer": tf.int64,
    "number": tf.float64,
    "boolean": tf.bool,
    "category": tf.string,
}
NUMPY_DTYPES: dict[str, Any] = {
    "integer": np.int64,
    "number": np.float64,
    "boolean": np.bool_,
    "category": object,
}
PREPROCESSING_FILE = "preprocessing.json"
# Encoded columns that rise with income; the coverage network is monotone in exactly these.
INCOME_COLUMNS = ("annual_income", "log_annual_income", "financial_capacity")


def input_signature(features: tuple[Feature, ...] = FEATURES) -> dict[str, tf.TensorSpec]:
    """Return the serving signature: one [N] tensor per feature, keyed by name."""
    return {f.name: tf.TensorSpec([None], TENSOR_DTYPES[f.type], name=f.name) for f in features}


def to_tensors(columns: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    """Convert numpy feature columns to tensors of the signature's dtypes."""
    out = {}
    for f in FEATURES:
        values = np.asarray(columns[f.name], dtype=NUMPY_DTYPES[f.type])
        out[f.name] = tf.constant(values, dtype=TENSOR_DTYPES[f.type])
    return out


def _signed_log1p(x: tf.Tensor) -> tf.Tensor:
    """Compress heavy-tailed money amounts while keeping their sign."""
    return tf.sign(x) * tf.math.log1p(tf.abs(x))


def _continuous_columns(columns: Mapping[str, tf.Tensor]) -> list[tuple[str, tf.Tensor]]:
    """Numeric inputs plus derived values, as float64 before scaling."""
    out: list[tuple[str, tf.Tensor]] = []
    for f in FEATURES:
        if f.type in ("integer", "number"):
            x = tf.cast(columns[f.name], tf.float64)
            out.append((f.name, x))
            if f.unit == "USD":
                # Coverage is linear in income, risk is not: give the network both scales.
                out.append((f"log_{f.name}", _signed_log1p(x)))
    height_m = tf.cast(columns["height_cm"], tf.float64) / 100.0
    out.append(("bmi", tf.cast(columns["weight_kg"], tf.float64) / (height_m * height_m)))
    out.append(
        (
            "cholesterol_ratio",
            tf.cast(columns["total_cholesterol"], tf.float64)
            / tf.cast(columns["hdl_cholesterol"], tf.float64),
        )
    )
    out.append(("financial_capacity", _financial_capacity(columns)))
    return out


def _financial_capacity(columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """Cover the guidelines justify, less cover in force, within the retention limit."""
    age = columns["age"]
    multiple = tf.constant(INCOME_MULTIPLE_65_PLUS, tf.float64)
    for below, value in reversed(INCOME_MULTIPLES):
        multiple = tf.where(age < below, tf.constant(value, tf.float64), multiple)
    by_income = multiple * tf.cast(columns["annual_income"], tf.float64)
    by_wealth = NET_WORTH_FRACTION * tf.maximum(tf.cast(columns["net_worth"], tf.float64), 0.0)
    room = tf.maximum(by_income, by_wealth) - tf.cast(columns["existing_coverage"], tf.float64)
    return tf.clip_by_value(room, 0.0, COVERAGE_CAP)


@dataclass
class Preprocessor:
    """Scaling statistics fitted on the training split, and the encoding that uses them."""

    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)

    def fit(self, columns: Mapping[str, np.ndarray]) -> Preprocessor:
        """Compute mean and standard deviation of every continuous column."""
        for name, values in _continuous_columns(to_tensors(columns)):
            array = values.numpy()
            self.means[name] = float(array.mean())
            self.stds[name] = float(array.std()) or 1.0
        return self

    def encode(self, columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Return the float32 [N, D] network input for raw signature tensors."""
        parts = [
            (values - self.means[name]) / self.stds[name]
            for name, values in _continuous_columns(columns)
        ]
        for f in FEATURES:
            if f.type == "boolean":
                parts.append(tf.cast(columns[f.name], tf.float64))
            elif f.type == "category":
                vocabulary = tf.constant(list(f.categories or ()))
                one_hot = tf.cast(
                    tf.equal(columns[f.name][:, None], vocabulary[None, :]), tf.float64
                )
                parts.extend(tf.unstack(one_hot, axis=1))
        return tf.cast(tf.stack(parts, axis=1), tf.float32)

    def income_indices(self) -> list[int]:
        """Positions of INCOME_COLUMNS in the encoded matrix (continuous columns come first)."""
        names = list(self.means)
        return [names.index(name) for name in INCOME_COLUMNS]

    def encode_numpy(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Encode numpy columns (training side) with the exact graph the service runs."""
        return np.asarray(self.encode(to_tensors(columns)))

    def save(self, directory: Path) -> None:
        """Write the statistics next to the model, so the pipeline can be rebuilt."""
        payload = {"means": self.means, "stds": self.stds}
        (directory / PREPROCESSING_FILE).write_text(json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> Preprocessor:
        """Read the statistics written by `save`."""
        payload = json.loads((directory / PREPROCESSING_FILE).read_text())
        return cls(means=payload["means"], stds=payload["stds"])
