"""`python -m bench.attributions`: how faithful each way of integrating the reasons' path is.

Reasons come from Integrated Gradients along the straight path from the best-risk reference to
the applicant. This compares, on a trained classifier (TensorFlow, the training side's
`Explainer`) and the generator's adverse applicants, the ways of integrating it:

- the midpoint rule (models published before segments), at several step counts;
- Gauss-Legendre nodes and weights;
- segments, as the explain signature now does: the path cut into K equal segments, each
  segment's exact change of the target (the head at its two ends) split between the risk
  columns by the gradient inside it. The score is piecewise linear along the path (positive
  weights, ReLU and min(x, 0) units), so this is exact wherever a segment holds no kink, and
  complete at any K.

Each is judged against a fine midpoint reference (`--reference` steps): the share of records
complete within the declared tolerance (no retry), the largest attribution error, the share
whose top feature is the reference's, and faithfulness (the top reason among the three largest
true debits the generator computed). "evals" counts the network evaluations per record and
target path: gradient points, plus the score at the segments' ends.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.attributions", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--applicants", type=int, default=6_000, help="generated, then adverse")
    parser.add_argument("--reference", type=int, default=2_000, help="midpoint steps of truth")
    parser.add_argument("--seed", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Print each integration's completeness, error, agreement and faithfulness."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from contract.explanations import DIFFERENCE_OUTPUT, SEGMENTS, Explanation, path_points
    from training import networks  # noqa: F401  (registers the classifier's layers)
    from training.explain import INNER, Explainer, reference
    from training.features import CLASS_NAMES
    from training.packing import pack_numpy
    from training.preprocessing import Preprocessor
    from training.reasons import EXPLAINED_NAMES, faithfulness, target_for
    from training.synthetic import generate
    from training.synthetic.rating import debits_with_knock_outs

    directory = max((args.models_dir / "risk_class").iterdir(), key=lambda p: int(p.name))
    model = keras.models.load_model(directory / "model.keras", compile=False)
    preprocessor = Preprocessor.load(directory)
    explainer = Explainer(model, preprocessor)
    metadata = json.loads((directory / "metadata.json").read_text())
    declared = Explanation.from_json(metadata["explain"])
    columns = dict(generate(args.applicants, args.seed).features)
    numbers, categories = pack_numpy(columns)
    encoded = preprocessor.encode_packed(tf.constant(numbers), tf.constant(categories))
    predicted = model({"risk": encoded["risk"], "context": encoded["context"]}).numpy().argmax(1)
    adverse = np.flatnonzero(predicted != CLASS_NAMES.index("standard"))
    n, c = tf.constant(numbers[adverse]), tf.constant(categories[adverse])
    ref = reference(n, c)
    own, best = preprocessor.encode_packed(n, c), preprocessor.encode_packed(*ref)
    risk_x, risk_r, context = own["risk"], best["risk"], own["context"]
    rows, width, context_width = int(risk_x.shape[0]), int(risk_x.shape[1]), context.shape[1]
    shares = explainer.shares((n, c), ref, risk_x, risk_r)
    difference = explainer.explain(n, c, tf.constant(path_points(1, SEGMENTS)))[DIFFERENCE_OUTPUT]

    def weighted(points: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
        """Sum over the path's points of weight x the target's slope x the score's gradient."""
        sums: dict[str, Any] = {}
        for start in range(0, len(points), 200):  # a few hundred points at a time: memory
            alphas = tf.constant(points[start : start + 200], tf.float32)
            count = int(alphas.shape[0])
            path = risk_r[:, None, :] + alphas[None, :, None] * (risk_x - risk_r)[:, None, :]
            beside = tf.broadcast_to(context[:, None, :], [rows, count, context_width])
            score, gradient = explainer.score_and_gradient(
                tf.reshape(path, [-1, width]), tf.reshape(beside, [-1, context_width])
            )
            gradient = tf.reshape(gradient, [rows, count, width])
            chunk = tf.constant(weights[start : start + 200], tf.float32)[None, :, None]
            for name, slope in explainer.target_slopes(score).items():
                along = tf.reshape(slope, [rows, count, 1]) * gradient * chunk
                sums[name] = sums.get(name, 0.0) + tf.reduce_sum(along, axis=1)
        found = {
            name: tf.transpose(tf.reduce_sum(total[None] * shares, axis=2)).numpy()
            for name, total in sums.items()
        }
        return found | {DIFFERENCE_OUTPUT: difference.numpy()}

    def midpoint(steps: int) -> dict[str, Any]:
        return weighted(path_points(steps), np.full(steps, 1.0 / steps))

    def gauss_legendre(nodes: int) -> dict[str, Any]:
        x, w = np.polynomial.legendre.leggauss(nodes)
        return weighted((x + 1) / 2, w / 2)

    def segments(count: int) -> dict[str, Any]:
        found = explainer.explain(n, c, tf.constant(path_points(count, SEGMENTS)))
        return {name: values.numpy() for name, values in found.items()}

    truth = midpoint(args.reference)
    targets = list(declared.targets)
    chosen_target = target_for(predicted[adverse])
    picked = {name: np.asarray(values)[adverse] for name, values in columns.items()}
    debits = debits_with_knock_outs(picked)

    def judge(label: str, evaluations: int, found: dict[str, np.ndarray]) -> None:
        complete = declared.complete_rows(found)
        error = max(float(np.abs(found[t] - truth[t]).max()) for t in targets)
        agree = np.mean([(found[t].argmax(1) == truth[t].argmax(1)).mean() for t in targets])
        chosen = np.stack([found[str(t)][i] for i, t in enumerate(chosen_target)])
        top = np.asarray(EXPLAINED_NAMES)[chosen.argmax(axis=1)]
        faithful = faithfulness(top, chosen.max(axis=1) > 0, debits)["faithful_share"]
        print(
            f"{label:<20} {evaluations:>6} {complete.mean():>9.2%} {error:>9.4f} "
            f"{agree:>9.2%} {faithful:>9.2%}"
        )

    print(
        f"{rows} adverse applicants of {args.applicants}; truth: {args.reference} midpoints; "
        f"tolerance {declared.relative_tolerance} relative + {declared.absolute_tolerance}"
    )
    print(
        f"{'integration':<20} {'evals':>6} {'complete':>9} {'max error':>9} {'top = ref':>9} "
        f"{'faithful':>9}"
    )
    for steps in (8, 16, 25, 50):
        judge(f"midpoint {steps}", steps, midpoint(steps))
    for nodes in (8, 16):
        judge(f"gauss-legendre {nodes}", nodes, gauss_legendre(nodes))
    for count in (4, 8, 16):
        judge(f"segments {count}", count * len(INNER) + count + 1, segments(count))


if __name__ == "__main__":
    main()
