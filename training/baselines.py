"""The gradient-boosting peers the networks replace, trained on the same rows."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor


def baseline_probabilities(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int, classes: int
) -> np.ndarray:
    """Fit HistGradientBoostingClassifier and return test-set class probabilities."""
    model = HistGradientBoostingClassifier(random_state=seed)
    model.fit(train_x, train_y)
    # predict_proba has a column per class seen in training; place them by class index.
    probabilities = np.zeros((len(test_x), classes))
    probabilities[:, model.classes_] = model.predict_proba(test_x)
    return probabilities


def baseline_coverage(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int
) -> np.ndarray:
    """Fit HistGradientBoostingRegressor (squared error) and return test-set predictions."""
    model = HistGradientBoostingRegressor(random_state=seed)
    model.fit(train_x, train_y)
    return np.maximum(np.asarray(model.predict(test_x)), 0.0)
