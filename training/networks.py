"""The two Keras networks, monotone by construction, and how they are fitted.

Risk class: a latent risk score f(risk, context) with non-negative weights from every column of
the `risk` block onward (training/preprocessing.py) and monotone activations, so f can only rise
as an applicant gets worse; the context (age, sex, BMI below the threshold) enters the first
layer only. Three classes come from f through a cumulative logit, as ordinal classes do:
P(standard) = s(t0 - f), P(standard or substandard) = s(t1 - f), t0 < t1, mixed with a learned
noise floor. A higher f moves probability from standard toward decline, never back.

Coverage: the classifier's probabilities (its very weights, frozen) weigh a per-class offer:
sum_k P(k) * min(capacity * factor_k, retention limit), less a learned rounding allowance, never
below 0. factor_standard >= factor_substandard >= factor_decline = 0, and the capacity rises
with income and net worth and falls with cover in force (non-negative weights over the insurer's
financial guidelines). So coverage never exceeds the limit, never goes negative, never rises
with a worse risk factor or more cover in force, never falls with more income or wealth, and is
near zero where decline is nearly certain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    MONEY_COLUMNS,
    NET_WORTH_FRACTION,
)
from training.outputs import COVERAGE_SCALE

RISK_UNITS = (64, 64)
CLASSIFIER_BATCH_SIZE = 512
REGRESSOR_BATCH_SIZE = 512
PATIENCE = 6
_PACKAGE = "underwriting"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PositiveDense(keras.layers.Layer):
    """A dense layer whose weights are softplus(raw) > 0: the output rises with every input.

    The weights start small (about 0.05), so even an untrained network's sums stay well
    conditioned in float32, where the SavedModel and the LiteRT export agree to about 1e-7.
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape: Any) -> None:
        start = keras.initializers.RandomNormal(mean=-3.0, stddev=0.5)
        self.raw = self.add_weight(
            name="raw", shape=(input_shape[-1], self.units), initializer=start
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        return keras.ops.matmul(inputs, keras.ops.softplus(self.raw)) + self.bias

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"units": self.units}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvexConcave(keras.layers.Layer):
    """Half the units through ReLU (convex), half through min(x, 0) (concave): both monotone.

    Stacked behind positive weights, the mix bends both ways, so the network can saturate (a
    knock-out) as well as accelerate, while staying non-decreasing in every input.
    """

    def call(self, inputs: Any) -> Any:
        half = inputs.shape[-1] // 2
        convex = keras.ops.relu(inputs[:, :half])
        concave = keras.ops.minimum(inputs[:, half:], 0.0)
        return keras.ops.concatenate([convex, concave], axis=1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CumulativeLogit(keras.layers.Layer):
    """Latent score -> (standard, substandard, decline) probabilities, ordered, with a floor."""

    def build(self, input_shape: Any) -> None:
        constant = keras.initializers.Constant
        self.first = self.add_weight(name="first_cut", shape=(), initializer=constant(0.0))
        self.gap = self.add_weight(name="cut_gap", shape=(), initializer=constant(1.0))
        self.noise = self.add_weight(name="noise", shape=(), initializer=constant(-3.0))

    def call(self, score: Any) -> Any:
        f = score[:, 0]
        second = self.first + keras.ops.softplus(self.gap)  # t1 > t0, whatever the weights
        standard = keras.ops.sigmoid(self.first - f)
        at_most_sub = keras.ops.sigmoid(second - f)
        ordered = keras.ops.stack([standard, at_most_sub - standard, 1.0 - at_most_sub], axis=1)
        floor = keras.ops.sigmoid(self.noise)  # labels are sometimes wrong whatever the risk
        return (1.0 - floor) * ordered + floor / 3.0


def build_classifier(risk_width: int, context_width: int) -> keras.Model:
    """The monotone latent score and its cumulative-logit head, compiled."""
    risk = keras.Input(shape=(risk_width,), name="risk")
    context = keras.Input(shape=(context_width,), name="context")
    first = RISK_UNITS[0]
    hidden = keras.layers.Add()(
        [
            PositiveDense(first)(risk),
            keras.layers.Dense(first, use_bias=False)(context),  # free: shifts, never reverses
        ]
    )
    hidden = ConvexConcave()(hidden)
    for units in RISK_UNITS[1:]:
        hidden = ConvexConcave()(PositiveDense(units)(hidden))
    score = PositiveDense(1, name="risk_score")(hidden)
    probabilities = CumulativeLogit(name="probabilities")(score)
    model = keras.Model({"risk": risk, "context": context}, probabilities, name="risk_class")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    return model


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Capacity(keras.layers.Layer):
    """Cover the financial guidelines justify, in $M, learned on top of the guideline formula.

    Inputs: age, annual income, net worth, existing coverage (dollars). The guideline room is
    max(income multiple for the age x income, share x positive net worth) - cover in force; the
    layer weighs it, income and wealth with positive weights and cover in force with a negative
    one, so capacity rises with income and wealth and falls with cover in force.
    """

    def build(self, input_shape: Any) -> None:
        constant = keras.initializers.Constant
        # softplus^-1(1) ~ 0.5413: the guideline room at weight 1 to start from.
        self.weights_raw = self.add_weight(
            name="weights", shape=(4,), initializer=constant([0.5413, -6.0, -6.0, -6.0])
        )

    def call(self, money: Any) -> Any:
        column = MONEY_COLUMNS.index
        age = money[:, column("age")]
        income, net_worth, existing = (
            money[:, column(name)] / COVERAGE_SCALE
            for name in ("annual_income", "net_worth", "existing_coverage")
        )
        edges = keras.ops.convert_to_tensor([float(below) for below, _ in INCOME_MULTIPLES])
        multiples = [m for _, m in INCOME_MULTIPLES] + [INCOME_MULTIPLE_65_PLUS]
        steps = [b - a for a, b in zip(multiples, multiples[1:], strict=False)]
        passed = keras.ops.cast(age[:, None] >= edges[None, :], "float32")
        multiple = multiples[0] + keras.ops.sum(passed * keras.ops.convert_to_tensor(steps), axis=1)
        wealth = keras.ops.maximum(net_worth, 0.0)
        room = keras.ops.maximum(multiple * income, NET_WORTH_FRACTION * wealth) - existing
        w = keras.ops.softplus(self.weights_raw)
        capacity = w[0] * room + w[1] * income + w[2] * wealth - w[3] * existing
        return keras.ops.relu(capacity)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ClassCoverage(keras.layers.Layer):
    """Expected coverage in $M: the classes' offers weighed by their probabilities.

    A declined applicant is offered nothing (the underwriting rule, not a learned amount); the
    other classes' shares of the capacity are learned, standard >= substandard, at most 1.
    """

    def build(self, input_shape: Any) -> None:
        constant = keras.initializers.Constant
        self.raw = self.add_weight(name="factors", shape=(2,), initializer=constant([3.0, 0.0]))
        self.rounding = self.add_weight(name="rounding", shape=(), initializer=constant(-5.0))

    def factors(self) -> Any:
        """standard >= substandard >= decline = 0, each at most 1."""
        sub = keras.ops.sigmoid(self.raw[1])
        standard = sub + (1.0 - sub) * keras.ops.sigmoid(self.raw[0])
        return keras.ops.stack([standard, sub, keras.ops.zeros_like(sub)])

    def call(self, inputs: Any) -> Any:
        probabilities, capacity = inputs
        cap = COVERAGE_CAP / COVERAGE_SCALE
        offers = keras.ops.minimum(capacity[:, None] * self.factors()[None, :], cap)
        expected = keras.ops.sum(probabilities * offers, axis=1)
        return keras.ops.relu(expected - keras.ops.softplus(self.rounding))[:, None]


def build_regressor(classifier: keras.Model, risk_width: int, context_width: int) -> keras.Model:
    """Coverage from the (frozen) classifier's probabilities and the learned capacity."""
    classifier = without_optimizer(classifier)  # the very weights, none of its training state
    classifier.trainable = False
    risk = keras.Input(shape=(risk_width,), name="risk")
    context = keras.Input(shape=(context_width,), name="context")
    money = keras.Input(shape=(len(MONEY_COLUMNS),), name="money")
    probabilities = classifier({"risk": risk, "context": context})
    coverage = ClassCoverage(name="scaled_coverage")([probabilities, Capacity()(money)])
    model = keras.Model(
        {"risk": risk, "context": context, "money": money}, coverage, name="max_coverage"
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-2), loss="mse")
    return model


@dataclass(frozen=True)
class FitResult:
    """A fitted network and its per-epoch history."""

    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int


def fit(
    model: keras.Model,
    train: tuple[dict[str, np.ndarray], np.ndarray],
    validation: tuple[dict[str, np.ndarray], np.ndarray],
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


def without_optimizer(model: keras.Model) -> keras.Model:
    """A copy with the very same weights and no optimizer state (for saving and nesting)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def inputs_of(model: keras.Model, encoded: dict[str, Any]) -> dict[str, Any]:
    """The blocks of an encoding that a model takes (the classifier takes no money)."""
    return {name: encoded[name] for name in model.input if name in encoded}
