"""Raw applicant columns -> the network's input matrix, written once in TensorFlow ops.

The same `Preprocessor.encode` runs on the training data and inside the exported SavedModel
signature, so a raw record is encoded identically offline and in the service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from contract.dtypes import TENSOR_DTYPE_BY_FEATURE_TYPE, numpy_dtype
from contract.features import Feature
from training.features import FEATURES
from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    NET_WORTH_FRACTION,
)

PREPROCESSING_FILE = "preprocessing.json"
# Encoded columns that rise with income; the coverage network is monotone in exactly these.
INCOME_COLUMNS = ("annual_income", "log_annual_income", "financial_capacity")


def input_signature(features: tuple[Feature, ...] = FEATURES) -> dict[str, tf.TensorSpec]:
    """Return the serving signature: one [N] tensor per feature, keyed by name."""
    return {f.name: tf.TensorSpec([None], _tensor_dtype(f), name=f.name) for f in features}


def _tensor_dtype(feature: Feature) -> tf.DType:
    return tf.dtypes.as_dtype(TENSOR_DTYPE_BY_FEATURE_TYPE[feature.type])


def to_tensors(columns: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    """Convert numpy feature columns to tensors of the signature's dtypes."""
    out = {}
    for f in FEATURES:
        values = np.asarray(columns[f.name], dtype=numpy_dtype(f.type))
        out[f.name] = tf.constant(values, dtype=_tensor_dtype(f))
    return out


_NUMERIC = tuple(f for f in FEATURES if f.type in ("integer", "number"))
_MONEY = tuple(f.name for f in _NUMERIC if f.unit == "USD")
_BOOLEANS = tuple(f.name for f in FEATURES if f.type == "boolean")
_CATEGORIES = tuple(f for f in FEATURES if f.type == "category")
# Derived columns, after the numeric inputs and the log of each money amount.
_DERIVED = ("bmi", "cholesterol_ratio", "financial_capacity")
CONTINUOUS_COLUMNS = (
    *(f.name for f in _NUMERIC),
    *(f"log_{name}" for name in _MONEY),  # coverage is linear in income, risk is not: both
    *_DERIVED,
)


def _numeric_matrix(columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """The integer and number inputs as one float64 [N, k] matrix (few ops: it is served)."""
    return tf.stack([tf.cast(columns[f.name], tf.float64) for f in _NUMERIC], axis=1)


def _derived(columns: Mapping[str, tf.Tensor]) -> list[tf.Tensor]:
    """BMI, total/HDL cholesterol ratio and financial capacity, float64 [N] each."""
    height_m = columns["height_cm"] / 100.0
    bmi = columns["weight_kg"] / (height_m * height_m)
    ratio = columns["total_cholesterol"] / columns["hdl_cholesterol"]
    return [bmi, ratio, _financial_capacity(columns)]


def _financial_capacity(columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """Cover the guidelines justify, less cover in force, within the retention limit."""
    bands = tf.raw_ops.Bucketize(
        input=columns["age"], boundaries=[float(below) for below, _ in INCOME_MULTIPLES]
    )
    table = tf.constant([m for _, m in INCOME_MULTIPLES] + [INCOME_MULTIPLE_65_PLUS], tf.float64)
    by_income = tf.gather(table, bands) * columns["annual_income"]
    by_wealth = NET_WORTH_FRACTION * tf.maximum(columns["net_worth"], 0.0)
    room = tf.maximum(by_income, by_wealth) - columns["existing_coverage"]
    return tf.clip_by_value(room, 0.0, COVERAGE_CAP)


def _continuous(columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """CONTINUOUS_COLUMNS as one float64 [N, k] matrix, before scaling."""
    numeric = _numeric_matrix(columns)
    money = tf.stack([columns[name] for name in _MONEY], axis=1)
    log_money = tf.sign(money) * tf.math.log1p(tf.abs(money))
    return tf.concat([numeric, log_money, tf.stack(_derived(columns), axis=1)], axis=1)


def _one_hot(columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """Every category column one-hot, in one comparison against the flattened vocabularies."""
    stacked = tf.stack([columns[f.name] for f in _CATEGORIES], axis=1)
    repeat = [i for i, f in enumerate(_CATEGORIES) for _ in f.categories or ()]
    vocabulary = tf.constant([c for f in _CATEGORIES for c in f.categories or ()])
    return tf.cast(tf.equal(tf.gather(stacked, repeat, axis=1), vocabulary), tf.float32)


@dataclass
class Preprocessor:
    """Scaling statistics fitted on the training split, and the encoding that uses them."""

    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)

    def fit(self, columns: Mapping[str, np.ndarray]) -> Preprocessor:
        """Compute mean and standard deviation of every continuous column."""
        matrix = _continuous(to_tensors(columns)).numpy()
        for name, values in zip(CONTINUOUS_COLUMNS, matrix.T, strict=True):
            self.means[name] = float(values.mean())
            self.stds[name] = float(values.std()) or 1.0
        return self

    def encode(self, columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Return the float32 [N, D] network input for raw signature tensors."""
        means = tf.constant([self.means[name] for name in CONTINUOUS_COLUMNS], tf.float64)
        stds = tf.constant([self.stds[name] for name in CONTINUOUS_COLUMNS], tf.float64)
        scaled = tf.cast((_continuous(columns) - means) / stds, tf.float32)
        flags = tf.cast(tf.stack([columns[name] for name in _BOOLEANS], axis=1), tf.float32)
        return tf.concat([scaled, flags, _one_hot(columns)], axis=1)

    def income_indices(self) -> list[int]:
        """Positions of INCOME_COLUMNS in the encoded matrix (continuous columns come first)."""
        return [CONTINUOUS_COLUMNS.index(name) for name in INCOME_COLUMNS]

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
