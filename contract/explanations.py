"""The explain signature a classifier exports: reason attributions computed inside the model.

For each record and each target (a sum of class probabilities, such as P(non-standard)), the
signature returns one attribution per directed feature and the target's difference from the
record's best-risk reference; the attributions add up to the difference (Integrated Gradients
is complete) up to the path's discretisation, which the caller checks against `tolerance`.
The caller passes the path's points (`alphas`), so it can ask for more steps when a check fails;
what they are depends on the declared `integration`:

- `midpoint` (models published before segments): the midpoints of `steps` equal steps, where
  the signature averages the target's gradient (a Riemann sum);
- `segments`: the ends of `steps` equal segments, 0 to 1, where the signature takes each
  segment's exact change of the target and splits it by the gradient inside the segment (the
  attributions add up to the difference whatever the number of segments).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contract.errors import ContractError

EXPLAIN_SIGNATURE = "explain"
ALPHAS_INPUT = "alphas"  # float32 [S]: the path's points in (0, 1)
DIFFERENCE_OUTPUT = "difference"  # float32 [N, targets]: target(record) - target(reference)
RETRY_FACTOR = 4  # a record whose attributions miss the tolerance is explained again with 4x steps
# Its own LiteRT file: an interpreter runs one subgraph fast, and serving needs only the other.
EXPLAIN_LITERT_FILE = "explain.tflite"


MIDPOINT, SEGMENTS = "midpoint", "segments"
INTEGRATIONS = (MIDPOINT, SEGMENTS)


def path_points(steps: int, integration: str = MIDPOINT) -> np.ndarray:
    """The `alphas` of `steps` steps: (k + 0.5) / steps for midpoints, k / steps (k = 0 to
    steps) for segments' ends."""
    if integration == SEGMENTS:
        return (np.arange(steps + 1) / steps).astype(np.float32)
    return ((np.arange(steps) + 0.5) / steps).astype(np.float32)


@dataclass(frozen=True)
class Explanation:
    """What the explain signature computes, and how well it did at publication (`checks`)."""

    features: tuple[str, ...]  # the columns of every attribution output, in order
    targets: Mapping[str, tuple[str, ...]]  # output name -> the classes whose probabilities sum
    steps: int  # path steps (segments) to ask for first
    relative_tolerance: float  # |sum - difference| allowed, relative to |difference| ...
    absolute_tolerance: float  # ... plus this much
    integration: str = MIDPOINT  # what the signature's `alphas` are (INTEGRATIONS)
    signature: str = EXPLAIN_SIGNATURE
    litert: str = EXPLAIN_LITERT_FILE  # the LiteRT export of the same signature
    checks: Mapping[str, Any] = field(default_factory=dict)

    def points(self, steps: int | None = None) -> np.ndarray:
        """The `alphas` to pass for `steps` steps (the declared number unless given)."""
        return path_points(self.steps if steps is None else steps, self.integration)

    def complete(self, total: float, difference: float) -> bool:
        """True if attributions adding to `total` account for `difference` within tolerance."""
        allowed = self.absolute_tolerance + self.relative_tolerance * abs(difference)
        return abs(total - difference) <= allowed

    def complete_rows(self, out: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per record of an explain output: True if every target's attributions add up."""
        complete = np.ones(len(out[DIFFERENCE_OUTPUT]), dtype=bool)
        for i, target in enumerate(self.targets):
            total = np.asarray(out[target], dtype=np.float64).sum(axis=1)
            difference = np.asarray(out[DIFFERENCE_OUTPUT][:, i], dtype=np.float64)
            allowed = self.absolute_tolerance + self.relative_tolerance * np.abs(difference)
            complete &= np.abs(total - difference) <= allowed
        return complete

    def target_for(self, label: str, best: str) -> str:
        """The target explaining a class: the narrowest holding it (the widest for the best)."""
        by_width = sorted(self.targets, key=lambda name: len(self.targets[name]))
        if label == best:
            return by_width[-1]
        return next((t for t in by_width if label in self.targets[t]), by_width[-1])

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form."""
        return {
            "signature": self.signature,
            "litert": self.litert,
            "features": list(self.features),
            "targets": {name: list(classes) for name, classes in self.targets.items()},
            "steps": self.steps,
            "integration": self.integration,
            "tolerance": {"relative": self.relative_tolerance, "absolute": self.absolute_tolerance},
            "checks": dict(self.checks),
        }

    @classmethod
    def from_json(cls, raw: Any) -> Explanation:
        """Parse metadata.json's `explain`."""
        if not isinstance(raw, Mapping):
            raise ContractError("explain is not an object")
        features, targets, tolerance = raw.get("features"), raw.get("targets"), raw.get("tolerance")
        names = isinstance(features, list) and all(isinstance(f, str) for f in features)
        if not (names and features):
            raise ContractError("explain features must list feature names")
        if not (
            isinstance(targets, Mapping)
            and targets
            and all(
                isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)
                for classes in targets.values()
            )
        ):
            raise ContractError("explain targets must map each output to the classes it sums")
        if DIFFERENCE_OUTPUT in targets:
            raise ContractError(f"explain target may not be called {DIFFERENCE_OUTPUT!r}")
        steps = raw.get("steps")
        if type(steps) is not int or not 1 <= steps <= 10_000:
            raise ContractError("explain steps must be an integer from 1 to 10,000")
        integration = raw.get("integration", MIDPOINT)
        if integration not in INTEGRATIONS:
            raise ContractError(f"explain integration must be one of {list(INTEGRATIONS)}")
        given = tolerance if isinstance(tolerance, Mapping) else {}
        bounds = [given.get(k) for k in ("relative", "absolute")]
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
            raise ContractError("explain tolerance needs relative and absolute numbers")
        relative, absolute = (float(b) for b in bounds)  # type: ignore[arg-type]
        if not (0 <= relative < 1 and 0 <= absolute < 1):
            raise ContractError("explain tolerances must lie in [0, 1)")
        litert = raw.get("litert", EXPLAIN_LITERT_FILE)
        if not isinstance(litert, str) or not litert or "/" in litert or litert.startswith("."):
            raise ContractError(f"explain litert {litert!r} is not a file name in the version")
        checks = raw.get("checks", {})
        if not isinstance(checks, Mapping):
            raise ContractError("explain checks is not an object")
        return cls(
            features=tuple(features),
            targets={name: tuple(classes) for name, classes in targets.items()},
            steps=steps,
            relative_tolerance=relative,
            absolute_tolerance=absolute,
            integration=integration,
            signature=str(raw.get("signature", EXPLAIN_SIGNATURE)),
            litert=litert,
            checks=dict(checks),
        )
