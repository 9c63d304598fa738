"""How good the reasons are: complete, and faithful to what really made the applicant a risk.

Each adverse record (the model's class is not standard) is explained by the exported explain
function; its top reason is the feature with the largest attribution to the adverse target
(P(decline) for a decline, P(non-standard) for a rating). Completeness: the attributions add
up to the target's difference from the reference within the declared tolerance (after one retry
with four times the steps, as the service does). Faithfulness (synthetic data only): the top
reason's impairment is among the applicant's three largest true debits (a knock-out counts as
the largest), as the generator computed them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from contract.explanations import DIFFERENCE_OUTPUT, Explanation
from training.explain import EXPLAINED, Explainer
from training.features import CLASS_NAMES
from training.packing import pack_numpy
from training.synthetic import generate
from training.synthetic.rating import DEBITS, debits_with_knock_outs

CHUNK = 2_000  # records per explain call: the path makes STEPS copies of each
RETRY_FACTOR = 4
TOP_DEBITS = 3
MAX_RECORDS = 10_000  # adverse records judged per sample


def target_for(class_index: np.ndarray) -> np.ndarray:
    """Which target explains each class: decline -> 'decline', else 'non_standard'."""
    return np.where(class_index == CLASS_NAMES.index("decline"), "decline", "non_standard")


def explain_columns(
    explainer: Explainer, columns: Mapping[str, np.ndarray], declared: Explanation
) -> dict[str, np.ndarray]:
    """Attributions, differences and a `complete` flag per target, retrying incomplete rows."""
    numbers, categories = pack_numpy(columns)
    out = _explain(explainer, numbers, categories, declared.points())
    incomplete = ~_complete(out, declared)
    rows = np.flatnonzero(incomplete.any(axis=1))
    if len(rows):
        more = declared.points(declared.steps * RETRY_FACTOR)
        again = _explain(explainer, numbers[rows], categories[rows], more)
        for name, values in again.items():
            out[name][rows] = values
    out["complete"] = _complete(out, declared)
    out["retried"] = np.zeros(len(numbers), bool)
    out["retried"][rows] = True
    return out


def _explain(
    explainer: Explainer, numbers: np.ndarray, categories: np.ndarray, points: np.ndarray
) -> dict[str, np.ndarray]:
    alphas = tf.constant(points)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(numbers), CHUNK):
        chunk = explainer.explain(
            tf.constant(numbers[start : start + CHUNK]),
            tf.constant(categories[start : start + CHUNK]),
            alphas,
        )
        for name, values in chunk.items():
            parts.setdefault(name, []).append(values.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def _complete(out: Mapping[str, np.ndarray], declared: Explanation) -> np.ndarray:
    """[N, targets] whether each target's attributions account for its difference."""
    difference = out[DIFFERENCE_OUTPUT].astype(np.float64)
    totals = np.stack([out[name].sum(axis=1) for name in declared.targets], axis=1)
    allowed = declared.absolute_tolerance + declared.relative_tolerance * np.abs(difference)
    return np.abs(totals - difference) <= allowed


def quality(
    explainer: Explainer,
    columns: Mapping[str, np.ndarray],
    probabilities: np.ndarray,
    declared: Explanation,
    classify: Classify | None = None,
) -> dict[str, Any]:
    """Completeness over the adverse records; with the generator's truth (`classify` given),
    faithfulness and the paired check too."""
    predicted = probabilities.argmax(axis=1)
    adverse = np.flatnonzero(predicted != CLASS_NAMES.index("standard"))[:MAX_RECORDS]
    picked = {name: np.asarray(values)[adverse] for name, values in columns.items()}
    out = explain_columns(explainer, picked, declared)
    targets = target_for(predicted[adverse])
    names = list(declared.targets)
    complete = out["complete"][np.arange(len(adverse)), [names.index(t) for t in targets]]
    found: dict[str, Any] = {
        "adverse_records": int(len(adverse)),
        "complete_share": float(complete.mean()) if len(adverse) else 1.0,
        "retried_share": float(out["retried"].mean()) if len(adverse) else 0.0,
        "steps": declared.steps,
    }
    if classify is not None and len(adverse):
        chosen = np.stack([out[t][i] for i, t in enumerate(targets)])
        top = np.asarray(EXPLAINED_NAMES)[chosen.argmax(axis=1)]
        found |= faithfulness(top, chosen.max(axis=1) > 0, debits_with_knock_outs(picked))
        found |= largest_debit_kept(explainer, classify, declared)
    return found


Classify = Callable[[Mapping[str, np.ndarray]], np.ndarray]  # columns -> probabilities [N, 3]
# Worsened factors of the paired check: each made bad enough to be most applicants' largest debit.
WORSENED: tuple[tuple[str, Any], ...] = (
    ("hba1c", 9.0),
    ("tobacco_use", "current"),
    ("dui_count_5y", 2),
    ("cancer_history", "remission_under_5y"),
    ("systolic_bp", 175),
    ("alcohol_drinks_per_week", 40),
    ("weight_kg", 130.0),
)
PAIRED_APPLICANTS = 3_000
PAIRED_SEED = 20_261_203
REASONS = 4  # at most four reasons per adverse decision


def largest_debit_kept(
    explainer: Explainer, classify: Classify, declared: Explanation
) -> dict[str, Any]:
    """Generated applicants with one factor worsened until it is their largest debit: the share
    of those rated adverse whose reasons (the top REASONS attributions) still name it."""
    kept = judged = 0
    for factor, worse in WORSENED:
        columns = dict(generate(PAIRED_APPLICANTS, PAIRED_SEED).features)
        columns[factor] = np.full(PAIRED_APPLICANTS, worse, dtype=columns[factor].dtype)
        debits = debits_with_knock_outs(columns)
        matrix = np.stack([debits[i.name] for i in DEBITS], axis=1)
        owner = next(j for j, i in enumerate(DEBITS) if factor in i.reads())
        predicted = classify(columns).argmax(axis=1)
        rows = np.flatnonzero((matrix.argmax(axis=1) == owner) & (predicted != 0))
        out = explain_columns(explainer, {k: v[rows] for k, v in columns.items()}, declared)
        column = EXPLAINED_NAMES.index(factor)
        for row, target in zip(range(len(rows)), target_for(predicted[rows]), strict=True):
            attributions = out[str(target)][row]
            top = np.argsort(-attributions, kind="stable")[:REASONS]
            kept += int(column in top and attributions[column] > 0)
        judged += len(rows)
    return {
        "largest_debit_kept_share": kept / judged if judged else 1.0,
        "largest_debit_judged": judged,
    }


EXPLAINED_NAMES = tuple(f.name for f in EXPLAINED)


def faithfulness(
    top_reason: np.ndarray, has_reason: np.ndarray, debits: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """Share of records whose top reason's impairment is among their TOP_DEBITS largest debits.

    Judged over records with at least one debit (an adverse class with no debit at all is label
    noise or the context, which no reason can name).
    """
    names = [impairment.name for impairment in DEBITS]
    matrix = np.stack([debits[name] for name in names], axis=1)
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :TOP_DEBITS]
    judged = (matrix > 0).any(axis=1)
    reads = [impairment.reads() for impairment in DEBITS]
    hits = np.zeros(len(top_reason), bool)
    for i, (feature, ranked) in enumerate(zip(top_reason, order, strict=True)):
        positive = [j for j in ranked if matrix[i, j] > 0]
        hits[i] = has_reason[i] and any(feature in reads[j] for j in positive)
    share = float(hits[judged].mean()) if judged.any() else 1.0
    return {"faithful_share": share, "faithfulness_judged": int(judged.sum())}
