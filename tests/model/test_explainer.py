"""The explain signature's arithmetic, on the trained classifier (TensorFlow, before export).

The shares each feature takes of a risk column's change, the columns each feature is read into,
and the path's segments: complete at any count, and converging on a fine integral.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contract.explanations import DIFFERENCE_OUTPUT, SEGMENTS, path_points

SEED = 9_191  # not a training seed


@pytest.fixture(scope="module")
def explainer(trained_models_dir: Path) -> Iterator[Any]:
    import keras

    from training import networks  # noqa: F401  (registers the classifier's layers)
    from training.explain import Explainer
    from training.preprocessing import Preprocessor

    version = trained_models_dir / "risk_class" / "1"
    model = keras.models.load_model(version / "model.keras", compile=False)
    yield Explainer(model, Preprocessor.load(version))


@pytest.fixture(scope="module")
def packed() -> tuple[Any, Any]:
    import tensorflow as tf

    from training.packing import pack_numpy
    from training.synthetic import generate

    numbers, categories = pack_numpy(generate(400, SEED).features)
    return tf.constant(numbers), tf.constant(categories)


def test_each_risk_column_reads_exactly_the_features_declared(explainer: Any) -> None:
    import tensorflow as tf

    from training.explain import EXPLAINED
    from training.packing import LAYOUT, pack_numpy
    from training.preprocessing import RISK_COLUMNS, RISK_READS
    from training.synthetic import generate

    assert len(RISK_READS) == len(RISK_COLUMNS)
    columns = generate(400, SEED + 1).features
    numbers, categories = pack_numpy(columns)
    other_numbers, other_categories = pack_numpy(generate(400, SEED + 2).features)
    base = explainer.preprocessor.encode_packed(tf.constant(numbers), tf.constant(categories))
    seen: dict[str, set[int]] = {}
    for feature in EXPLAINED:
        moved_numbers, moved_categories = numbers.copy(), categories.copy()
        if feature.name in LAYOUT.numbers:
            at = LAYOUT.numbers.index(feature.name)
            moved_numbers[:, at] = other_numbers[:, at]
        else:
            at = LAYOUT.category_names.index(feature.name)
            moved_categories[:, at] = other_categories[:, at]
        moved = explainer.preprocessor.encode_packed(
            tf.constant(moved_numbers), tf.constant(moved_categories)
        )
        changed = np.flatnonzero(np.any(moved["risk"].numpy() != base["risk"].numpy(), axis=0))
        seen[feature.name] = set(changed.tolist())
    declared = {name: {c for c, reads in enumerate(RISK_READS) if name in reads} for name in seen}
    assert seen == declared


def _every_feature_shapley(explainer: Any, own: Any, best: Any) -> Any:
    """Each feature's share of each column's change, moving every feature alone and last."""
    import tensorflow as tf

    from training.explain import EXPLAINED
    from training.packing import LAYOUT

    def risk(numbers: Any, categories: Any) -> Any:
        return explainer.preprocessor.encode_packed(numbers, categories)["risk"]

    def swapped(into: Any, source: Any, feature: Any) -> Any:
        if feature.name in LAYOUT.numbers:
            mask = np.zeros(len(LAYOUT.numbers), np.float32)
            mask[LAYOUT.numbers.index(feature.name)] = 1.0
            return risk(into[0] * (1 - mask) + source[0] * mask, into[1])
        keep = np.ones(len(LAYOUT.categories), bool)
        keep[LAYOUT.category_names.index(feature.name)] = False
        return risk(into[0], tf.where(keep, into[1], source[1]))

    risk_x, risk_r = risk(*own), risk(*best)
    return np.stack(
        [
            0.5 * ((swapped(best, own, f) - risk_r) + (risk_x - swapped(own, best, f))).numpy()
            for f in EXPLAINED
        ]
    )


def test_the_shares_are_the_shapley_split_over_every_feature(
    explainer: Any, packed: tuple[Any, Any]
) -> None:
    from training.explain import reference

    best = reference(*packed)
    risk_x = explainer.preprocessor.encode_packed(*packed)["risk"]
    risk_r = explainer.preprocessor.encode_packed(*best)["risk"]
    shares = explainer.shares(packed, best, risk_x, risk_r).numpy()
    expected = _every_feature_shapley(explainer, packed, best)
    np.testing.assert_allclose(shares, expected, atol=1e-5)
    assert explainer._shared, "the ratio and BMI share their columns"  # the split is exercised
    # Efficient: the features' shares of each column add up to its change.
    np.testing.assert_allclose(shares.sum(axis=0), (risk_x - risk_r).numpy(), atol=1e-5)


@pytest.mark.parametrize("segments", [1, 2, 8])
def test_attributions_add_up_to_the_difference_whatever_the_segments(
    explainer: Any, packed: tuple[Any, Any], segments: int
) -> None:
    import tensorflow as tf

    from training.explain import TARGETS

    found = explainer.explain(*packed, tf.constant(path_points(segments, SEGMENTS)))
    difference = found[DIFFERENCE_OUTPUT].numpy()
    assert np.abs(difference).max() > 0.1  # adverse records are among them
    for i, target in enumerate(TARGETS):
        totals = found[target].numpy().astype(np.float64).sum(axis=1)
        np.testing.assert_allclose(totals, difference[:, i], atol=2e-5)


def test_more_segments_converge_on_a_fine_midpoint_integral(
    explainer: Any, packed: tuple[Any, Any]
) -> None:
    """The fine integral (2,000 midpoints of the gradient, weighted by the target's slope) is
    what Integrated Gradients defines; segments approach it from the start."""
    import tensorflow as tf

    from training.explain import TARGETS, reference

    numbers, categories = packed
    best = reference(numbers, categories)
    own, ref = (
        explainer.preprocessor.encode_packed(*packed),
        explainer.preprocessor.encode_packed(*best),
    )
    risk_x, risk_r, context = own["risk"], ref["risk"], own["context"]
    rows, width = int(risk_x.shape[0]), int(risk_x.shape[1])
    sums: dict[str, Any] = {}
    for start in range(0, 2_000, 250):
        alphas = tf.constant(path_points(2_000)[start : start + 250])
        path = risk_r[:, None, :] + alphas[None, :, None] * (risk_x - risk_r)[:, None, :]
        beside = tf.broadcast_to(context[:, None, :], [rows, 250, int(context.shape[1])])
        score, gradient = explainer.score_and_gradient(
            tf.reshape(path, [-1, width]), tf.reshape(beside, [-1, int(context.shape[1])])
        )
        for name, slope in explainer.target_slopes(score).items():
            along = tf.reshape(slope[:, None] * gradient, [rows, 250, width])
            sums[name] = sums.get(name, 0.0) + tf.reduce_sum(along, axis=1) / 2_000
    shares = explainer.shares(packed, best, risk_x, risk_r)
    fine = {
        name: tf.transpose(tf.reduce_sum(total[None] * shares, axis=2)).numpy()
        for name, total in sums.items()
    }
    errors = []
    for segments in (2, 8, 32):
        found = explainer.explain(*packed, tf.constant(path_points(segments, SEGMENTS)))
        errors.append(max(np.abs(found[t].numpy() - fine[t]).max() for t in TARGETS))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01


def test_the_integration_benchmark_finds_segments_complete_and_midpoints_not(
    trained_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.attributions import main

    main(["--models-dir", str(trained_models_dir), "--applicants", "600", "--reference", "400"])
    rows = {
        line[:20].strip(): line[20:].split()
        for line in capsys.readouterr().out.splitlines()
        if line.startswith(("midpoint", "gauss", "segments"))
    }
    assert set(rows) >= {"midpoint 8", "midpoint 50", "gauss-legendre 16", "segments 8"}
    complete = {name: float(values[1].rstrip("%")) for name, values in rows.items()}
    assert all(complete[name] == 100.0 for name in rows if name.startswith("segments"))
    assert complete["midpoint 8"] < 100.0
    assert rows["segments 8"][0] == "25"  # network evaluations a record
