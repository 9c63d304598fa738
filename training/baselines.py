"""The gradient-boosting peers the networks are judged against, trained on the same inputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

Predictor = Callable[[np.ndarray], np.ndarray]


def baseline_probabilities(
    train_x: np.ndarray, train_y: np.ndarray, seed: int, classes: int
) -> Predictor:
    """Fit HistGradientBoostingClassifier; return what gives class probabilities."""
    model = HistGradientBoostingClassifier(random_state=seed)
    model.fit(train_x, train_y)

    def predict(x: np.ndarray) -> np.ndarray:
        # predict_proba has a column per class seen in training; place them by class index.
        probabilities = np.zeros((len(x), classes))
        probabilities[:, model.classes_] = model.predict_proba(x)
        return probabilities

    return predict


def baseline_coverage(train_x: np.ndarray, train_y: np.ndarray, seed: int) -> Predictor:
    """Fit HistGradientBoostingRegressor (squared error); return what gives coverage."""
    model = HistGradientBoostingRegressor(random_state=seed)
    model.fit(train_x, train_y)
    return lambda x: np.maximum(np.asarray(model.predict(x)), 0.0)
