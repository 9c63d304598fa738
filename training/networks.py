"""The two Keras networks and how they are fitted."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

CLASSIFIER_UNITS = (256, 128)
REGRESSOR_UNITS = (128, 64)
MONOTONE_UNITS = (32, 32)
MONOTONE_TERMS = 16
CLASSIFIER_BATCH_SIZE = 512
REGRESSOR_BATCH_SIZE = 512
PATIENCE = 6


@dataclass(frozen=True)
class FitResult:
    """A fitted network and its per-epoch history."""

    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int


def _hidden_stack(inputs: keras.KerasTensor, layer_units: tuple[int, ...]) -> keras.KerasTensor:
    x = inputs
    for units in layer_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return x


def build_classifier(input_width: int, classes: int) -> keras.Model:
    """Dense ReLU layers and a softmax with one unit per risk class."""
    inputs = keras.Input(shape=(input_width,), name="encoded_features")
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(
        _hidden_stack(inputs, CLASSIFIER_UNITS)
    )
    model = keras.Model(inputs, outputs, name="risk_class")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _monotone_block(x: keras.KerasTensor, units: int) -> keras.KerasTensor:
    """Non-negative weights, then half convex (ReLU) and half concave (min(x, 0)) units.

    Both activations are non-decreasing, so the block is non-decreasing in every input, and the
    mix of convex and concave pieces lets it bend both ways (saturate at the cover cap).
    """
    z = keras.layers.Dense(units, kernel_constraint=keras.constraints.NonNeg())(x)
    convex = keras.layers.ReLU()(z)
    concave = keras.layers.Subtract()([z, keras.layers.ReLU()(z)])
    return keras.layers.Concatenate()([convex, concave])


def build_regressor(input_width: int, income_indices: list[int]) -> keras.Model:
    """Coverage = sum_j a_j(other features) * phi_j(income features) + b(other features).

    a_j >= 0 (softplus) and phi_j non-decreasing, so predicted coverage can never fall as income
    rises with everything else equal: a guarantee, not a tendency. The output is linear.
    """
    inputs = keras.Input(shape=(input_width,), name="encoded_features")
    others = [i for i in range(input_width) if i not in income_indices]
    income = keras.ops.take(inputs, income_indices, axis=1)
    context = _hidden_stack(keras.ops.take(inputs, others, axis=1), REGRESSOR_UNITS)
    phi = income
    for units in MONOTONE_UNITS:
        phi = _monotone_block(phi, units)
    phi = keras.layers.Dense(MONOTONE_TERMS, kernel_constraint=keras.constraints.NonNeg())(phi)
    weights = keras.layers.Dense(MONOTONE_TERMS, activation="softplus")(context)
    outputs = keras.layers.Add(name="scaled_coverage")(
        [keras.layers.Dot(axes=1)([weights, phi]), keras.layers.Dense(1)(context)]
    )
    model = keras.Model(inputs, outputs, name="max_coverage")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def fit(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    epochs: int,
    batch_size: int,
) -> FitResult:
    """Fit with early stopping on validation loss, restoring the best epoch's weights."""
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=PATIENCE, restore_best_weights=True
    )
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=3)
    history = model.fit(
        *train,
        validation_data=validation,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[stop, reduce],
        verbose=2,
    )
    curves = {k: [float(v) for v in values] for k, values in history.history.items()}
    return FitResult(model, curves, len(curves["loss"]))
