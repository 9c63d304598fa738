"""Which decisions open an underwriter's case, and what a case holds beyond its decision.

Every referral opens a case. A declared share of the straight-through decisions (accepted or
declined with no person involved) opens an audit case, drawn at random per decision so a
client can neither predict nor steer which are audited: underwriters' verdicts on those measure
how often the model would have been overturned. A case holds what an underwriter needs and the
decision record does not: the applicant's validated record (personal data, erased after the
retention setting) and the model's outputs. Its decision, reasons, fired rules and versions are
those of the decision record's row that opened it (the case's id is that row's sequence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

REFERRAL, AUDIT = "referral", "audit"
KINDS = (REFERRAL, AUDIT)
OPEN, ASSIGNED = "open", "assigned"  # open: in the queue; assigned: claimed by an underwriter
STATES = (OPEN, ASSIGNED)
OUTCOMES = ("accept", "refer", "decline")
REFERRED = "refer"  # the decision outcome that always opens a case


@dataclass(frozen=True)
class CaseOpening:
    """A case a decision opens, committed with it."""

    kind: str  # referral or audit
    applicant: Mapping[str, Any]  # the validated record: personal data
    outputs: Mapping[str, Any]  # the model's outputs for the record, as JSON values


class Casework:
    """Chooses the decisions that open cases: every referral, and an audit sample of the rest."""

    def __init__(self, audit_share: float, draw: np.random.Generator | None = None) -> None:
        if not 0.0 <= audit_share <= 1.0:
            raise ValueError(f"the audit share must be within 0 and 1, not {audit_share}")
        self.audit_share = audit_share
        # Seeded from the operating system's entropy unless a test seeds it: clients never see
        # which decisions are audited, so they cannot learn the draws.
        self._draw = draw or np.random.default_rng()

    def opening(self, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which decisions open a referral, and which an audit (boolean arrays, disjoint)."""
        referred = outcomes == REFERRED
        if not self.audit_share:
            return referred, np.zeros_like(referred)
        audited = ~referred & (self._draw.random(len(outcomes)) < self.audit_share)
        return referred, audited

    def openings(
        self,
        outcomes: np.ndarray,
        applicants: Sequence[Mapping[str, Any]],
        outputs: Mapping[str, np.ndarray],
    ) -> list[CaseOpening | None]:
        """The case each decision opens (None: none), with the record and outputs it holds:
        built for those records only (most open none)."""
        referred, audited = self.opening(outcomes)
        opened: list[CaseOpening | None] = [None] * len(outcomes)
        for i in np.flatnonzero(referred | audited).tolist():
            kind = REFERRAL if referred[i] else AUDIT
            opened[i] = CaseOpening(kind, applicants[i], _record_outputs(outputs, i))
        return opened


def _record_outputs(outputs: Mapping[str, np.ndarray], index: int) -> dict[str, Any]:
    """One record's outputs as JSON values (a slice: numeric and object arrays alike)."""
    return {name: values[index : index + 1].tolist()[0] for name, values in outputs.items()}


def reason_codes(decision: Mapping[str, Any]) -> str:
    """The codes of a decision's reasons and fired rules, as the queue filters on them: each
    between spaces (` R02 RF04 `), so a code matches whole."""
    codes = [r.get("code") for r in [*decision.get("reasons", ()), *decision.get("rules", ())]]
    return " " + " ".join(code for code in codes if isinstance(code, str)) + " "
