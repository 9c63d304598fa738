"""Derived measures a risk direction may be conditioned on, computed the one way."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def bmi(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Body-mass index: weight in kg over height in metres squared."""
    height = np.asarray(columns["height_cm"], dtype=np.float64) / 100.0
    return np.asarray(columns["weight_kg"], dtype=np.float64) / (height * height)


MEASURES = {"bmi": bmi}
