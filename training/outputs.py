"""What each model returns, declared once: written into metadata.json, served as declared.

Kept free of TensorFlow, so the declarations can be read (and tested) without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.outputs import DerivedOutput, OutputSpec
from training.features import CLASS_NAMES
from training.guidelines import COVERAGE_CAP

# The regressor learns coverage in millions of dollars: a linear transform keeps the MSE fit an
# estimate of the conditional mean (what minimises RMSE); log1p would estimate a geometric mean and
# fall short on the declines' zeros and the rich applicants' large amounts.
COVERAGE_SCALE = 1_000_000.0


@dataclass(frozen=True)
class Declaration:
    """What a model's metadata.json says it returns."""

    outputs: tuple[OutputSpec, ...]
    derived_outputs: tuple[DerivedOutput, ...] = ()
    class_names: tuple[str, ...] | None = None
    target: dict[str, Any] | None = None


RISK_CLASS = Declaration(
    outputs=(
        OutputSpec(
            "probabilities",
            "float32",
            (-1, len(CLASS_NAMES)),
            "Class probabilities in class_names order; rows sum to 1.",
            labels=CLASS_NAMES,
            minimum=0.0,
            maximum=1.0,
            row_sum=1.0,
            tolerance=1e-5,
        ),
    ),
    derived_outputs=(
        DerivedOutput("risk_class", "probabilities", "argmax", "The most probable risk class."),
    ),
    class_names=CLASS_NAMES,
)

MAX_COVERAGE = Declaration(
    outputs=(
        OutputSpec(
            "max_coverage",
            "float32",
            (-1,),
            "Expected maximum coverage in USD: never negative, never above the retention limit.",
            minimum=0.0,
            maximum=COVERAGE_CAP,
            tolerance=10.0,
            relative_tolerance=2e-6,  # float32: $20 more at the $10M retention limit
        ),
    ),
    target={
        "name": "max_coverage",
        "unit": "USD",
        "transform": f"network output x {COVERAGE_SCALE:,.0f}, within [0, {COVERAGE_CAP:,.0f}]",
    },
)
