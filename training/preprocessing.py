"""Packed records -> the networks' inputs, in three blocks derived from the feature declaration.

- `risk`: every feature with a risk direction, each column rising as the applicant gets worse:
  numbers oriented (negated where lower is worse) and standardised, plus log(1 + x) of
  non-negative ones; the cholesterol ratio; BMI above the declared threshold; flags; categories
  as cumulative indicators over their best-to-worst order. A network with non-negative weights
  on this block can only rate a worse applicant worse.
- `context`: undirected, non-financial features (age, sex) and BMI below the threshold, free to
  shape the risk but never to reverse it above the threshold.
- `money`: the age and the financial features, clipped at their declared limits, for the
  coverage model's capacity (never the risk class: money does not decide the class).

Written once in float32 TensorFlow ops that LiteRT runs too (`log(1 + x)`, comparisons, one-hot
of indices), over the packed records of training/packing.py. Training, the SavedModel and the
LiteRT export all encode through `Preprocessor.encode_packed`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from contract.features import Feature
from training.features import FEATURES
from training.guidelines import MONEY_COLUMNS
from training.packing import LAYOUT, pack_numpy, pack_tensors

PREPROCESSING_FILE = "preprocessing.json"
Encoded = dict[str, tf.Tensor]


def _order(feature: Feature) -> tuple[str, ...]:
    """A category feature's levels, best first (its declared risk order)."""
    order = feature.risk.order if feature.risk is not None else None
    return order or feature.categories or ()


_DIRECTED = tuple(f for f in FEATURES if f.risk is not None and f.role != "financial")
_NUMBERS = tuple(
    f for f in _DIRECTED if f.type in ("integer", "number") and f.risk and f.risk.where is None
)
_LOGGED = tuple(f for f in _NUMBERS if (f.minimum or 0) >= 0)
_FLAGS = tuple(f for f in _DIRECTED if f.type == "boolean")
_ORDERED = tuple(f for f in _DIRECTED if f.type == "category")
# The measure a conditioned direction holds above (BMI from 25), from the declaration.
_THRESHOLDS = sorted({f.risk.where for f in _DIRECTED if f.risk and f.risk.where})
_UNDIRECTED = tuple(f for f in FEATURES if f.risk is None and f.role != "financial")
_CONTEXT_NUMBERS = tuple(f for f in _UNDIRECTED if f.type in ("integer", "number"))
_CONTEXT_CATEGORIES = tuple(f for f in _UNDIRECTED if f.type == "category")


def _check_declaration() -> None:
    """Refuse a declaration this encoding would get wrong, rather than train it backwards.

    The encoding knows three things beyond the declaration: the cholesterol ratio is total over
    HDL (rising with risk only if total is worse higher and HDL worse lower), build is the one
    conditioned direction (BMI from its bound: weight worse higher, height worse lower), and the
    money block holds exactly the financial features.
    """
    directions = {f.name: f.risk.worse if f.risk else None for f in FEATURES}
    if (directions.get("total_cholesterol"), directions.get("hdl_cholesterol")) != (
        "higher",
        "lower",
    ):
        raise ValueError("the cholesterol ratio needs total worse higher and HDL worse lower")
    conditioned = {f.name: f.risk for f in FEATURES if f.risk is not None and f.risk.where}
    if len(_THRESHOLDS) > 1 or any(m != "bmi" for m, _ in _THRESHOLDS):
        raise ValueError(f"one BMI bound may condition a direction, not {_THRESHOLDS}")
    if conditioned and {n: r.worse for n, r in conditioned.items()} != {
        "weight_kg": "higher",
        "height_cm": "lower",
    }:
        raise ValueError("only weight (worse higher) and height (worse lower) depend on BMI")
    financial = {f.name for f in FEATURES if f.role == "financial"}
    if financial != set(MONEY_COLUMNS[1:]):
        raise ValueError(f"the money block reads {MONEY_COLUMNS[1:]}, declared {financial}")


_check_declaration()

# Scaled columns, in block order; the statistics of each are fitted on the training split.
RISK_SCALED = (
    *(f.name for f in _NUMBERS),
    *(f"log_{f.name}" for f in _LOGGED),
    "cholesterol_ratio",
    *(f"{measure}_over_{bound:g}" for measure, bound in _THRESHOLDS),
)
CONTEXT_SCALED = (
    *(f.name for f in _CONTEXT_NUMBERS),
    *(f"{measure}_under_{bound:g}" for measure, bound in _THRESHOLDS),
)
RISK_COLUMNS = (
    *RISK_SCALED,
    *(f.name for f in _FLAGS),
    *(f"{f.name}>={level}" for f in _ORDERED for level in _order(f)[1:]),
)
_MEASURE_READS = {"bmi": ("height_cm", "weight_kg")}
# The features each risk column is computed from, in RISK_COLUMNS order: an explanation splits
# a column's change between them (most columns read one feature; the ratio and BMI read two).
RISK_READS: tuple[tuple[str, ...], ...] = (
    *((f.name,) for f in _NUMBERS),
    *((f.name,) for f in _LOGGED),
    ("total_cholesterol", "hdl_cholesterol"),
    *(_MEASURE_READS[measure] for measure, _ in _THRESHOLDS),
    *((f.name,) for f in _FLAGS),
    *((f.name,) for f in _ORDERED for _ in _order(f)[1:]),
)


def _column(numbers: tf.Tensor, name: str) -> tf.Tensor:
    return numbers[:, LAYOUT.numbers.index(name)]


def _bmi(numbers: tf.Tensor) -> tf.Tensor:
    height_m = _column(numbers, "height_cm") / 100.0
    return _column(numbers, "weight_kg") / (height_m * height_m)


_MEASURES = {"bmi": _bmi}


def _oriented(numbers: tf.Tensor, feature: Feature) -> tf.Tensor:
    """The feature's value, negated if lower is worse: a column that rises with risk."""
    value = _column(numbers, feature.name)
    return -value if feature.risk is not None and feature.risk.worse == "lower" else value


def _risk_raw(numbers: tf.Tensor) -> tf.Tensor:
    """RISK_SCALED as one float32 [N, k] matrix, before scaling."""
    columns = [_oriented(numbers, f) for f in _NUMBERS]
    for f in _LOGGED:
        logged = tf.math.log(1.0 + _column(numbers, f.name))
        columns.append(-logged if f.risk and f.risk.worse == "lower" else logged)
    ratio = _column(numbers, "total_cholesterol") / _column(numbers, "hdl_cholesterol")
    columns.append(ratio)
    columns += [tf.maximum(_MEASURES[m](numbers) - b, 0.0) for m, b in _THRESHOLDS]
    return tf.stack(columns, axis=1)


def _context_raw(numbers: tf.Tensor) -> tf.Tensor:
    """CONTEXT_SCALED as one float32 [N, k] matrix, before scaling."""
    columns = [_column(numbers, f.name) for f in _CONTEXT_NUMBERS]
    columns += [tf.minimum(_MEASURES[m](numbers), b) for m, b in _THRESHOLDS]
    return tf.stack(columns, axis=1)


def _cumulative(categories: tf.Tensor, feature: Feature) -> tf.Tensor:
    """Indicators "at least this bad", one per level after the best, via one-hot of the index.

    An index of -1 (a category the SavedModel's signature did not recognise: TensorFlow Serving
    clients skip the service's validation) is rated as the worst level, never as the best.
    """
    declared = feature.categories or ()
    order = _order(feature)
    rank = [order.index(category) for category in declared]
    table = [[1.0 if r >= level else 0.0 for level in range(1, len(order))] for r in rank]
    index = categories[:, LAYOUT.category_names.index(feature.name)]
    unknown = tf.cast(index < 0, tf.float32)[:, None]
    return tf.one_hot(index, len(declared), dtype=tf.float32) @ tf.constant(table) + unknown


def _money(numbers: tf.Tensor) -> tf.Tensor:
    """Age and the financial features, clipped at their declared limits (no extrapolation)."""
    columns = []
    for name in MONEY_COLUMNS:
        f = next(f for f in FEATURES if f.name == name)
        low = -np.inf if f.minimum is None else f.minimum
        high = np.inf if f.maximum is None else f.maximum
        columns.append(tf.clip_by_value(_column(numbers, name), low, high))
    return tf.stack(columns, axis=1)


@dataclass
class Preprocessor:
    """Scaling statistics fitted on the training split, and the encoding that uses them."""

    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)

    def fit(self, columns: Mapping[str, np.ndarray]) -> Preprocessor:
        """Compute mean and standard deviation of every scaled column."""
        numbers = tf.constant(pack_numpy(columns)[0])
        for names, raw in ((RISK_SCALED, _risk_raw), (CONTEXT_SCALED, _context_raw)):
            matrix = raw(numbers).numpy().astype(np.float64)
            for name, values in zip(names, matrix.T, strict=True):
                self.means[name] = float(values.mean())
                self.stds[name] = float(values.std()) or 1.0
        return self

    def _scaled(self, raw: tf.Tensor, names: tuple[str, ...]) -> tf.Tensor:
        means = tf.constant([self.means[name] for name in names], tf.float32)
        stds = tf.constant([self.stds[name] for name in names], tf.float32)
        return (raw - means) / stds  # stds > 0: scaling keeps each column's direction

    def encode_packed(self, numbers: tf.Tensor, categories: tf.Tensor) -> Encoded:
        """Return the network inputs for packed records (converts to LiteRT built-ins)."""
        flags = [_column(numbers, f.name) for f in _FLAGS]
        risk = [self._scaled(_risk_raw(numbers), RISK_SCALED), tf.stack(flags, axis=1)]
        risk += [_cumulative(categories, f) for f in _ORDERED]
        context = [self._scaled(_context_raw(numbers), CONTEXT_SCALED)]
        for f in _CONTEXT_CATEGORIES:
            index = categories[:, LAYOUT.category_names.index(f.name)]
            context.append(tf.one_hot(index, len(f.categories or ()), dtype=tf.float32))
        return {
            "risk": tf.concat(risk, axis=1),
            "context": tf.concat(context, axis=1),
            "money": _money(numbers),
        }

    def encode(self, columns: Mapping[str, tf.Tensor]) -> Encoded:
        """Return the network inputs for raw signature tensors (the SavedModel's path)."""
        return self.encode_packed(*pack_tensors(columns))

    def encode_numpy(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Encode numpy columns (training side) with the exact graph the exports run."""
        numbers, categories = pack_numpy(columns)
        encoded = self.encode_packed(tf.constant(numbers), tf.constant(categories))
        return {name: np.asarray(block) for name, block in encoded.items()}

    def save(self, directory: Path) -> None:
        """Write the statistics next to the model, so the pipeline can be rebuilt."""
        payload = {"means": self.means, "stds": self.stds}
        (directory / PREPROCESSING_FILE).write_text(json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> Preprocessor:
        """Read the statistics written by `save`."""
        payload = json.loads((directory / PREPROCESSING_FILE).read_text())
        if not all(std > 0 for std in payload["stds"].values()):
            raise ValueError(f"{directory / PREPROCESSING_FILE}: a scale is not positive")
        return cls(means=payload["means"], stds=payload["stds"])
