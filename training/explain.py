"""Reasons inside the exported classifier: Integrated Gradients to a best-risk reference.

For a record x, the reference r is the same applicant moved to the best-risk value of every
directed factor on which x is worse (the declared `reference` of a number, the first category of
an order, false for a flag, the weight at BMI 25 for build); everything else is left as it is,
so the context block (age, sex, BMI below 25) is the same for both and only worse-than-reference
factors can carry attribution. The path runs straight from r's risk block to x's (the blocks of
training/preprocessing.py); each target (a sum of class probabilities) is differentiated along
it by a backward pass written in forward operations, because LiteRT's built-in operations have
no gradients; publication compares it with TensorFlow's own gradient.

Each risk column's integrated gradient is split between the features it is computed from by the
exact Shapley split over them (every column reads one or two features: the cholesterol ratio
reads two), so the features' attributions add up to the path integral: the target's difference
between x and r, up to the path's discretisation, which the caller checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from contract.explanations import DIFFERENCE_OUTPUT, Explanation, path_points
from contract.features import Feature
from training.features import CLASS_NAMES, FEATURES, FEATURES_BY_NAME
from training.networks import ConvexConcave, CumulativeLogit, PositiveDense
from training.packing import LAYOUT
from training.preprocessing import Preprocessor

STEPS = 50
RELATIVE_TOLERANCE = 0.02
ABSOLUTE_TOLERANCE = 1e-3  # probability: differences this small need no exact account
GRADIENT_CHECK_ROWS = 2_000
GRADIENT_TOLERANCE = 1e-4
# What adverse outcomes are explained by: not standard (a rating) and decline.
TARGETS: dict[str, tuple[str, ...]] = {
    "non_standard": tuple(c for c in CLASS_NAMES if c != "standard"),
    "decline": ("decline",),
}
EXPLAINED: tuple[Feature, ...] = tuple(
    f for f in FEATURES if f.risk is not None and f.role != "financial"
)


midpoints = path_points  # the path's points, as the contract defines them


def declaration(checks: Mapping[str, Any] | None = None) -> Explanation:
    """What the explain signature computes, for metadata.json."""
    return Explanation(
        features=tuple(f.name for f in EXPLAINED),
        targets=TARGETS,
        steps=STEPS,
        relative_tolerance=RELATIVE_TOLERANCE,
        absolute_tolerance=ABSOLUTE_TOLERANCE,
        checks=dict(checks or {}),
    )


def _bmi_weight(numbers: tf.Tensor, bound: float) -> tf.Tensor:
    """The weight at which the applicant's BMI equals `bound`."""
    height_m = numbers[:, LAYOUT.numbers.index("height_cm")] / 100.0
    return bound * height_m * height_m


def _best_number(numbers: tf.Tensor, feature: Feature) -> tf.Tensor:
    """The reference value of one packed number column: the applicant's own if not worse."""
    value = numbers[:, LAYOUT.numbers.index(feature.name)]
    risk = feature.risk
    if risk is None or feature not in EXPLAINED:
        return value
    if risk.where is not None:
        measure, bound = risk.where
        if measure != "bmi":
            raise ValueError(f"no reference for a direction conditioned on {measure!r}")
        # Build moves along weight; height keeps the applicant's own (it sets the BMI's scale).
        return tf.minimum(value, _bmi_weight(numbers, bound)) if risk.worse == "higher" else value
    if feature.type == "boolean":
        return tf.zeros_like(value)  # false is never worse
    best = risk.reference
    if best is None:
        best = feature.minimum if risk.worse == "higher" else feature.maximum
    if best is None:
        raise ValueError(f"{feature.name}: no reference and no bound to use instead")
    return tf.minimum(value, best) if risk.worse == "higher" else tf.maximum(value, best)


def reference(numbers: tf.Tensor, categories: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The best-risk reference of each packed record (same layout)."""
    best_numbers = [_best_number(numbers, FEATURES_BY_NAME[n]) for n in LAYOUT.numbers]
    best_categories = []
    for position, (name, vocabulary) in enumerate(LAYOUT.categories):
        index = categories[:, position]
        feature = FEATURES_BY_NAME[name]
        if feature in EXPLAINED and feature.risk is not None and feature.risk.order:
            best = vocabulary.index(feature.risk.order[0])
            index = tf.where(index >= 0, tf.fill(tf.shape(index), best), index)
        best_categories.append(index)
    return tf.stack(best_numbers, axis=1), tf.stack(best_categories, axis=1)


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """Per explained feature, which packed number and category columns are its own."""
    numbers = np.zeros((len(EXPLAINED), len(LAYOUT.numbers)), np.float32)
    categories = np.zeros((len(EXPLAINED), len(LAYOUT.categories)), bool)
    for i, feature in enumerate(EXPLAINED):
        if feature.name in LAYOUT.numbers:
            numbers[i, LAYOUT.numbers.index(feature.name)] = 1.0
        else:
            categories[i, LAYOUT.category_names.index(feature.name)] = True
    return numbers, categories


class Explainer:
    """Attributions of a trained classifier's targets, in TensorFlow ops LiteRT runs."""

    def __init__(self, classifier: keras.Model, preprocessor: Preprocessor) -> None:
        self.classifier = classifier
        self.preprocessor = preprocessor
        positive = [layer for layer in classifier.layers if isinstance(layer, PositiveDense)]
        context = [layer for layer in classifier.layers if type(layer) is keras.layers.Dense]
        head = [layer for layer in classifier.layers if isinstance(layer, CumulativeLogit)]
        blocks = sum(isinstance(layer, ConvexConcave) for layer in classifier.layers)
        if len(context) != 1 or len(head) != 1 or blocks != len(positive) - 1:
            raise ValueError("the explainer expects training.networks.build_classifier's layers")

        def constant(value: Any) -> tf.Tensor:
            return tf.constant(np.asarray(value, np.float32))

        softplus = keras.ops.softplus
        self._weights = [(constant(softplus(p.raw)), constant(p.bias)) for p in positive]
        self._context = constant(context[0].kernel)
        cuts = head[0]
        first = float(cuts.first.numpy())
        self._cuts = (first, first + float(softplus(cuts.gap)))
        self._floor = float(keras.ops.sigmoid(cuts.noise))
        self._masks = tuple(tf.constant(m) for m in _masks())

    def score_and_gradient(
        self, risk: tf.Tensor, context: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The latent score f [M] and df/d(risk) [M, R], by a hand-written backward pass."""
        slopes = []
        hidden = risk
        for i, (weights, bias) in enumerate(self._weights[:-1]):
            z = hidden @ weights + bias
            if i == 0:
                z = z + context @ self._context
            half = z.shape[-1] // 2
            convex, concave = z[:, :half], z[:, half:]
            hidden = tf.concat([tf.nn.relu(convex), tf.minimum(concave, 0.0)], axis=1)
            slopes.append(
                tf.concat([tf.cast(convex > 0, tf.float32), tf.cast(concave < 0, tf.float32)], 1)
            )
        weights, bias = self._weights[-1]
        score = (hidden @ weights + bias)[:, 0]
        gradient = tf.broadcast_to(tf.transpose(weights), [tf.shape(risk)[0], weights.shape[0]])
        for (weights, _), slope in zip(reversed(self._weights[:-1]), reversed(slopes), strict=True):
            gradient = (gradient * slope) @ tf.transpose(weights)
        return score, gradient

    def _target_slopes(self, score: tf.Tensor) -> dict[str, tf.Tensor]:
        """d target / d score for each target, from the cumulative-logit head."""
        t0, t1 = self._cuts
        s0, s1 = tf.sigmoid(t0 - score), tf.sigmoid(t1 - score)
        d0, d1 = s0 * (1.0 - s0), s1 * (1.0 - s1)  # -d s / d score
        scale = 1.0 - self._floor
        by_class = {
            CLASS_NAMES[0]: -scale * d0,
            CLASS_NAMES[1]: scale * (d0 - d1),
            CLASS_NAMES[2]: scale * d1,
        }
        return {name: tf.add_n([by_class[c] for c in classes]) for name, classes in TARGETS.items()}

    def _shares(
        self, numbers: tf.Tensor, categories: tf.Tensor, ref: tuple[tf.Tensor, tf.Tensor]
    ) -> tf.Tensor:
        """[D, N, R]: each explained feature's exact Shapley share of each risk column's change."""
        number_masks, category_masks = self._masks
        ref_numbers, ref_categories = ref
        d = len(EXPLAINED)

        def risk_of(n: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
            flat_n = tf.reshape(n, [-1, len(LAYOUT.numbers)])
            flat_c = tf.reshape(c, [-1, len(LAYOUT.categories)])
            return self.preprocessor.encode_packed(flat_n, flat_c)["risk"]

        def swapped(
            into: tuple[tf.Tensor, tf.Tensor], source: tuple[tf.Tensor, tf.Tensor]
        ) -> tf.Tensor:
            """`into` with each explained feature's columns taken from `source`, in turn."""
            mask = number_masks[:, None, :]
            mixed_numbers = into[0][None] * (1.0 - mask) + source[0][None] * mask
            categories_mask = tf.broadcast_to(
                category_masks[:, None, :], [d, tf.shape(into[1])[0], len(LAYOUT.categories)]
            )
            mixed_categories = tf.where(categories_mask, source[1][None], into[1][None])
            return tf.reshape(risk_of(mixed_numbers, mixed_categories), [d, -1, self._risk_width])

        own = (numbers, categories)
        best = (ref_numbers, ref_categories)
        risk_x, risk_r = risk_of(*own), risk_of(*best)
        alone = swapped(best, own) - risk_r[None]  # the feature moved alone from the reference
        last = risk_x[None] - swapped(own, best)  # the feature moved last, the others already
        return 0.5 * (alone + last)

    @property
    def _risk_width(self) -> int:
        return int(self._weights[0][0].shape[0])

    def explain(
        self, numbers: tf.Tensor, categories: tf.Tensor, alphas: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """Per target [N, D] attributions, and DIFFERENCE_OUTPUT [N, targets]."""
        ref = reference(numbers, categories)
        encoded = self.preprocessor.encode_packed(numbers, categories)
        encoded_ref = self.preprocessor.encode_packed(*ref)
        risk_x, risk_r, context = encoded["risk"], encoded_ref["risk"], encoded["context"]
        rows, steps = tf.shape(risk_x)[0], tf.shape(alphas)[0]
        width, context_width = self._risk_width, int(context.shape[1])
        path = risk_r[:, None, :] + alphas[None, :, None] * (risk_x - risk_r)[:, None, :]
        path_context = tf.broadcast_to(context[:, None, :], [rows, steps, context_width])
        score, gradient = self.score_and_gradient(
            tf.reshape(path, [-1, width]), tf.reshape(path_context, [-1, context_width])
        )
        shares = self._shares(numbers, categories, ref)
        out: dict[str, tf.Tensor] = {}
        for name, slope in self._target_slopes(score).items():
            along = tf.reshape(slope[:, None] * gradient, [rows, steps, width])
            mean = tf.reduce_mean(along, axis=1)  # [N, R]
            out[name] = tf.transpose(tf.reduce_sum(mean[None] * shares, axis=2))  # [N, D]
        change = self.classifier({"risk": risk_x, "context": context}, training=False)
        change -= self.classifier(
            {"risk": risk_r, "context": encoded_ref["context"]}, training=False
        )
        summed = [[CLASS_NAMES.index(c) for c in classes] for classes in TARGETS.values()]
        out[DIFFERENCE_OUTPUT] = tf.stack(
            [tf.reduce_sum(tf.gather(change, columns, axis=1), axis=1) for columns in summed], 1
        )
        return out


def check_gradient(explainer: Explainer, risk: np.ndarray, context: np.ndarray) -> float:
    """The largest gap between the hand-written gradient and TensorFlow's own, at these points.

    Guards the backward pass against the classifier's architecture changing under it.
    """
    score_layer = explainer.classifier.get_layer("risk_score")
    score_model = keras.Model(explainer.classifier.inputs, score_layer.output)
    risk_t, context_t = tf.constant(risk, tf.float32), tf.constant(context, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(risk_t)
        score = score_model({"risk": risk_t, "context": context_t}, training=False)[:, 0]
    expected = tape.gradient(score, risk_t)
    own_score, own = explainer.score_and_gradient(risk_t, context_t)
    return float(
        max(tf.reduce_max(tf.abs(expected - own)), tf.reduce_max(tf.abs(score - own_score)))
    )
