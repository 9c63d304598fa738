"""Records -> the network's input matrix, written once in TensorFlow ops that LiteRT runs too.

The core, `Preprocessor.encode_packed`, takes the packed records (contract.packing: float32
numbers, int32 category indices) and uses only float32 operations that convert to LiteRT
built-ins (`log(1 + x)`, not log1p; `sum(x >= bounds)`, not Bucketize; one-hot of indices, not
string lookups). The SavedModel signature packs raw columns first (`pack_tensors`), then runs the
same core; training encodes its data through the same core (`encode_numpy`). So a record is
encoded identically in training, in the SavedModel and in the LiteRT export.
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
from contract.packing import PackedLayout
from training.features import FEATURES
from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    NET_WORTH_FRACTION,
)

PREPROCESSING_FILE = "preprocessing.json"
LAYOUT = PackedLayout.of(FEATURES)
# Encoded columns that rise with income; the coverage network is monotone in exactly these.
INCOME_COLUMNS = ("annual_income", "log_annual_income", "financial_capacity")

_NUMERIC = tuple(f.name for f in FEATURES if f.type in ("integer", "number"))
_MONEY = tuple(f.name for f in FEATURES if f.type == "number" and f.unit == "USD")
_BOOLEANS = tuple(f.name for f in FEATURES if f.type == "boolean")
# Derived columns, after the numeric inputs and the log of each money amount.
_DERIVED = ("bmi", "cholesterol_ratio", "financial_capacity")
CONTINUOUS_COLUMNS = (
    *_NUMERIC,
    *(f"log_{name}" for name in _MONEY),  # coverage is linear in income, risk is not: both
    *_DERIVED,
)
# The income multiple by age as arithmetic: the first multiple, then a step at each band edge.
_BAND_EDGES = tuple(float(below) for below, _ in INCOME_MULTIPLES)
_MULTIPLES = (*(m for _, m in INCOME_MULTIPLES), INCOME_MULTIPLE_65_PLUS)
_BAND_STEPS = tuple(b - a for a, b in zip(_MULTIPLES, _MULTIPLES[1:], strict=False))


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
        # -1 one-hot encodes to zeros: an unknown category moves no weight (validation refuses
        # it before it gets here in the service).
        indices.append(tf.where(tf.reduce_any(matches, axis=1), found, -1))
    return numbers, tf.stack(indices, axis=1)


def _column(numbers: tf.Tensor, name: str) -> tf.Tensor:
    return numbers[:, LAYOUT.numbers.index(name)]


def _gather(numbers: tf.Tensor, names: tuple[str, ...]) -> tf.Tensor:
    return tf.gather(numbers, [LAYOUT.numbers.index(n) for n in names], axis=1)


def _financial_capacity(numbers: tf.Tensor) -> tf.Tensor:
    """Cover the guidelines justify, less cover in force, within the retention limit."""
    age = _column(numbers, "age")
    steps = tf.cast(tf.expand_dims(age, 1) >= tf.constant(_BAND_EDGES), tf.float32)
    multiple = _MULTIPLES[0] + tf.reduce_sum(steps * tf.constant(_BAND_STEPS), axis=1)
    by_income = multiple * _column(numbers, "annual_income")
    by_wealth = NET_WORTH_FRACTION * tf.maximum(_column(numbers, "net_worth"), 0.0)
    room = tf.maximum(by_income, by_wealth) - _column(numbers, "existing_coverage")
    return tf.clip_by_value(room, 0.0, COVERAGE_CAP)


def _continuous(numbers: tf.Tensor) -> tf.Tensor:
    """CONTINUOUS_COLUMNS as one float32 [N, k] matrix, before scaling."""
    money = _gather(numbers, _MONEY)
    log_money = tf.sign(money) * tf.math.log(1.0 + tf.abs(money))
    height_m = _column(numbers, "height_cm") / 100.0
    bmi = _column(numbers, "weight_kg") / (height_m * height_m)
    ratio = _column(numbers, "total_cholesterol") / _column(numbers, "hdl_cholesterol")
    derived = tf.stack([bmi, ratio, _financial_capacity(numbers)], axis=1)
    return tf.concat([_gather(numbers, _NUMERIC), log_money, derived], axis=1)


@dataclass
class Preprocessor:
    """Scaling statistics fitted on the training split, and the encoding that uses them."""

    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)

    def fit(self, columns: Mapping[str, np.ndarray]) -> Preprocessor:
        """Compute mean and standard deviation of every continuous column."""
        numbers, _ = pack_numpy(columns)
        matrix = _continuous(tf.constant(numbers)).numpy().astype(np.float64)
        for name, values in zip(CONTINUOUS_COLUMNS, matrix.T, strict=True):
            self.means[name] = float(values.mean())
            self.stds[name] = float(values.std()) or 1.0
        return self

    def encode_packed(self, numbers: tf.Tensor, categories: tf.Tensor) -> tf.Tensor:
        """Return the float32 [N, D] network input for packed records (converts to LiteRT)."""
        means = tf.constant([self.means[name] for name in CONTINUOUS_COLUMNS], tf.float32)
        stds = tf.constant([self.stds[name] for name in CONTINUOUS_COLUMNS], tf.float32)
        scaled = (_continuous(numbers) - means) / stds
        one_hot = [
            tf.one_hot(categories[:, j], depth=len(vocabulary), dtype=tf.float32)
            for j, (_, vocabulary) in enumerate(LAYOUT.categories)
        ]
        return tf.concat([scaled, _gather(numbers, _BOOLEANS), *one_hot], axis=1)

    def encode(self, columns: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Return the network input for raw signature tensors (the SavedModel's path)."""
        return self.encode_packed(*pack_tensors(columns))

    def income_indices(self) -> list[int]:
        """Positions of INCOME_COLUMNS in the encoded matrix (continuous columns come first)."""
        return [CONTINUOUS_COLUMNS.index(name) for name in INCOME_COLUMNS]

    def encode_numpy(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Encode numpy columns (training side) with the exact graph the exports run."""
        numbers, categories = pack_numpy(columns)
        return np.asarray(self.encode_packed(tf.constant(numbers), tf.constant(categories)))

    def save(self, directory: Path) -> None:
        """Write the statistics next to the model, so the pipeline can be rebuilt."""
        payload = {"means": self.means, "stds": self.stds}
        (directory / PREPROCESSING_FILE).write_text(json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> Preprocessor:
        """Read the statistics written by `save`."""
        payload = json.loads((directory / PREPROCESSING_FILE).read_text())
        return cls(means=payload["means"], stds=payload["stds"])


def to_tensors(columns: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    """Convert numpy feature columns to tensors of the SavedModel signature's dtypes."""
    return {
        f.name: tf.constant(
            np.asarray(columns[f.name], dtype=numpy_dtype(f.type)), _tensor_dtype(f)
        )
        for f in FEATURES
    }
