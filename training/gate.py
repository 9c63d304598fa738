"""The publication gate: what a trained pair must meet before it reaches a served repository.

A version is published only if every model of the run meets the targets its report judges (the
quality targets on the judged sample, the behaviour audit, the LiteRT parity, the reasons'
checks). The pair is judged together: the service decides with both models, so one that fails
keeps the other out too. The training time is reported but not gated (it measures the machine,
not the model), nor is the fairness report (its flags are findings for people to weigh).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from training import audit
from training.targets import comparison_rows, judged, reasons_rows

GATE_KEY = "gate"  # under metadata.training


class PublicationRefused(RuntimeError):
    """The trained pair failed the publication gate: set aside, not published."""


@dataclass(frozen=True)
class GateVerdict:
    """What the gate found, and whether the version was published over it."""

    failures: tuple[str, ...]
    published_anyway: bool = False

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def publishes(self) -> bool:
        return self.passed or self.published_anyway

    def to_json(self) -> dict[str, Any]:
        """The metadata's record of the gate (under `training.gate`)."""
        return {
            "passed": self.passed,
            "failures": list(self.failures),
            "published_anyway": self.published_anyway and not self.passed,
        }


def model_failures(
    name: str, task: str, metrics: Mapping[str, Any], explain_checks: Mapping[str, Any]
) -> list[str]:
    """Every target one model's report would mark MISSED, named by model and check."""
    sample, judged_metrics = judged(metrics)
    found = [
        f"{name}: {metric} on the {sample}: {verdict}"
        for metric, _, _, _, verdict in comparison_rows(task, dict(judged_metrics))
        if verdict.startswith("MISSED")
    ]
    found += [f"{name}: behaviour audit: {problem}" for problem in audit.failures(metrics["audit"])]
    found += [
        f"{name}: reasons {check}: {measured}, {verdict}"
        for check, measured, verdict in reasons_rows(explain_checks)
        if verdict.startswith("MISSED")
    ]
    return found
