"""Attributions for a batch from the classifier's explain signature, checked for completeness.

Records whose attributions do not add up to their difference from the reference within the
declared tolerance are explained again with four times the steps; any still short are flagged
`complete = False` (the decision says so; nothing is silently passed off as exact). The path's
points follow the model's declared integration (segments, or midpoints for models published
before them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.explanations import DIFFERENCE_OUTPUT, RETRY_FACTOR, Explanation
from service.inference.packing import Batch
from service.inference.runtimes import Explain


@dataclass(frozen=True)
class Attributions:
    """Per record: each target's attributions [N, features], differences, completeness, steps."""

    by_target: dict[str, np.ndarray]
    difference: np.ndarray  # [N, targets]
    complete: np.ndarray  # bool [N]
    steps: np.ndarray  # int [N]: the path steps that gave them


def subset(batch: Batch, rows: np.ndarray) -> Batch:
    """The records `rows` of a packed batch (every packing is row-major)."""
    return Batch(tuple(array[rows] for array in batch.arrays), len(rows))


# Records per explain call: each becomes a few points per step in the interpreter (for segments
# three per segment, plus one), whose memory stays at the largest call's size; 64 records at
# four times the declared steps keeps that to a few MiB.
CHUNK = 64


def _chunked(run: Explain, batch: Batch, alphas: np.ndarray) -> dict[str, np.ndarray]:
    """The explain outputs for the whole batch, computed CHUNK records at a time."""
    if batch.size <= CHUNK:
        return {name: np.array(values) for name, values in run(batch, alphas).items()}
    parts = [
        run(subset(batch, np.arange(start, min(start + CHUNK, batch.size))), alphas)
        for start in range(0, batch.size, CHUNK)
    ]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def attribute(explain: Explanation, run: Explain, batch: Batch) -> Attributions:
    """Explain every record of `batch`, retrying the incomplete ones once with more steps."""
    out = _chunked(run, batch, explain.points())
    complete = explain.complete_rows(out)
    steps = np.full(batch.size, explain.steps)
    if not complete.all():
        rows = np.flatnonzero(~complete)
        more = explain.steps * RETRY_FACTOR
        again = _chunked(run, subset(batch, rows), explain.points(more))
        for name, values in again.items():
            out[name][rows] = values
        complete[rows] = explain.complete_rows(again)
        steps[rows] = more
    targets = {name: out[name] for name in explain.targets}
    return Attributions(targets, out[DIFFERENCE_OUTPUT], complete, steps)
