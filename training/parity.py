"""Publication's check that the two export formats give the same answers.

A probe set (generated applicants plus every declared minimum and maximum) is scored through the
SavedModel and through the LiteRT model. Each output may differ by at most its declared
tolerance (absolute plus relative, as numpy.isclose), and the predicted class (argmax) must
agree wherever the top two probabilities are further apart than the absolute tolerance. The
measured figures go into metadata.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from contract.explanations import DIFFERENCE_OUTPUT, Explanation
from contract.metadata import LITERT_FILE, SAVED_MODEL_DIR, SIGNATURE_NAME
from contract.outputs import OutputSpec
from training.features import FEATURES
from training.packing import pack_numpy, to_tensors
from training.quiet_start import without_delegate_notice
from training.synthetic import generate

PROBE_ROWS = 10_000
PROBE_SEED = 20_261_201  # a seed no training run uses by default


class ExportMismatch(ValueError):
    """The LiteRT export disagrees with the SavedModel beyond a declared tolerance."""


def probe_columns(rows: int = PROBE_ROWS, seed: int = PROBE_SEED) -> dict[str, np.ndarray]:
    """Generated applicants, then one record of every minimum and one of every maximum."""
    columns = dict(generate(rows, seed).features)
    for f in FEATURES:
        extremes: list[Any]
        if f.type == "category":
            extremes = [(f.categories or ("",))[0], (f.categories or ("",))[-1]]
        elif f.type == "boolean":
            extremes = [False, True]
        else:
            extremes = [f.minimum, f.maximum]
        added = np.asarray(extremes, dtype=columns[f.name].dtype)
        columns[f.name] = np.concatenate([columns[f.name], added])
    return columns


def _saved_model_outputs(directory: Path, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    signature = tf.saved_model.load(str(directory / SAVED_MODEL_DIR)).signatures[SIGNATURE_NAME]
    return {name: value.numpy() for name, value in signature(**to_tensors(columns)).items()}


def _litert_outputs(directory: Path, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    numbers, categories = pack_numpy(columns)
    return _run_litert(
        directory / LITERT_FILE, SIGNATURE_NAME, numbers=numbers, categories=categories
    )


def _run_litert(path: Path, signature: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Run one LiteRT signature, without LiteRT's delegate notice on the command's stderr."""
    with without_delegate_notice():
        runner = Interpreter(model_path=str(path)).get_signature_runner(signature)
        return dict(runner(**inputs))


def check_parity(directory: Path, outputs: tuple[OutputSpec, ...]) -> dict[str, Any]:
    """Score the probe through both exports; return the figures or raise ExportMismatch."""
    columns = probe_columns()
    expected = _saved_model_outputs(directory, columns)
    actual = _litert_outputs(directory, columns)
    differences: dict[str, float] = {}
    problems = []
    for spec in outputs:
        reference = expected[spec.name].astype(np.float64)
        # NaN compares as a difference, never as agreement.
        gaps = np.nan_to_num(np.abs(reference - actual[spec.name]), nan=np.inf)
        allowed = (spec.tolerance or 0.0) + (spec.relative_tolerance or 0.0) * np.abs(reference)
        differences[spec.name] = float(np.max(gaps))
        if spec.tolerance is not None and (gaps > allowed).any():
            worst = int(np.argmax(gaps - allowed))
            problems.append(
                f"{spec.name} differs by {gaps.flat[worst]:g} at {reference.flat[worst]:g} "
                f"(allowed {allowed.flat[worst]:g})"
            )
    parity: dict[str, Any] = {
        "probe_records": len(columns["age"]),
        "max_abs_difference": differences,
    }
    for spec in outputs:
        if spec.labels is not None:
            ordered = np.sort(expected[spec.name], axis=1)
            clear = ordered[:, -1] - ordered[:, -2] > (spec.tolerance or 0.0)
            agree = expected[spec.name].argmax(axis=1) == actual[spec.name].argmax(axis=1)
            parity["classes_identical"] = bool(agree[clear].all())
            parity["near_ties_excluded"] = int((~clear).sum())
            if not parity["classes_identical"]:
                problems.append(f"{int((~agree & clear).sum())} records change class")
    if problems:
        raise ExportMismatch("LiteRT export disagrees with the SavedModel: " + "; ".join(problems))
    return parity


EXPLAIN_PROBE_ROWS = 2_000
# The differences agree as the probabilities do. Attributions can differ more: where a unit sits
# at exactly 0 on a path point, float rounding decides its slope (ReLU's derivative jumps), which
# moves one of the path's steps; each format stays complete on its own.
DIFFERENCE_TOLERANCE = 1e-5
ATTRIBUTION_TOLERANCE = 2e-3


def check_explain_parity(directory: Path, declared: Explanation) -> dict[str, Any]:
    """Explain the probe's first records through both exports; return the largest differences."""
    columns = {name: values[:EXPLAIN_PROBE_ROWS] for name, values in probe_columns().items()}
    alphas = declared.points()
    signature = tf.saved_model.load(str(directory / SAVED_MODEL_DIR)).signatures[declared.signature]
    expected = {k: v.numpy() for k, v in signature(**to_tensors(columns), alphas=alphas).items()}
    numbers, categories = pack_numpy(columns)
    actual = _run_litert(
        directory / declared.litert,
        declared.signature,
        numbers=numbers,
        categories=categories,
        alphas=alphas,
    )
    gaps = {n: np.abs(expected[n] - actual[n]) for n in [*declared.targets, DIFFERENCE_OUTPUT]}
    difference = float(np.max(gaps.pop(DIFFERENCE_OUTPUT)))
    attribution = max(float(np.max(gap)) for gap in gaps.values())
    # NaN fails both comparisons.
    if not (difference <= DIFFERENCE_TOLERANCE and attribution <= ATTRIBUTION_TOLERANCE):
        raise ExportMismatch(
            f"LiteRT explain differs from the SavedModel's: difference by {difference:g} "
            f"(allowed {DIFFERENCE_TOLERANCE:g}), attributions by {attribution:g} "
            f"(allowed {ATTRIBUTION_TOLERANCE:g})"
        )
    return {
        "probe_records": len(numbers),
        "max_abs_difference": {"difference": difference, "attributions": attribution},
    }
