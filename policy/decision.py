"""A decision as typed values: the outcome, the class, the offer, the reasons and the fired rules.

The policy produces them (decide.py, reasons.py); every consumer reads these types, and each
wire has one encoder: `to_json` here is the JSON form that REST answers, V2 tensors carry and the
decision record stores (its keys in this order, so the bytes a record was hashed over stay the
same), the batch scorer writes columns, a future wire its own messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from policy.document import Outcome, Wording

RuleKind = Literal["knock_out", "out_of_range", "confidence", "face_amount"]


@dataclass(frozen=True, slots=True)
class FiredRule:
    """A policy rule that fired for one record, with what it compared (unset: not its kind's)."""

    rule: RuleKind
    wording: Wording
    feature: str | None = None  # knock_out, out_of_range: the feature tested
    value: Any = None  # knock_out, out_of_range: the applicant's value
    range: tuple[float, float] | None = None  # out_of_range: the training range
    top_probability: float | None = None  # confidence: the model's largest probability
    threshold: float | None = None  # confidence: the policy's minimum
    requested: float | None = None  # face_amount: the amount applied for
    limit: float | None = None  # face_amount: the accelerated-underwriting limit exceeded
    offer: float | None = None  # face_amount: the offer exceeded (0.0: none to make)

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"rule": self.rule, **self.wording.to_json()}
        for name in _RULE_DETAILS:
            value = getattr(self, name)
            if value is not None:
                shown[name] = list(value) if name == "range" else value
        return shown


_RULE_DETAILS: tuple[str, ...] = ("feature", "value", "range", "top_probability", "threshold")
_RULE_DETAILS += ("requested", "limit", "offer")


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for an adverse decision: the policy's wording, the applicant's own value and
    how much the feature raised the explained probability (None: not computed)."""

    code: str
    feature: str
    text: str
    value: Any
    contribution: float | None
    related: dict[str, Any] | None = None  # the other features of the same code (build)

    def to_json(self) -> dict[str, Any]:
        shown = {
            "code": self.code,
            "feature": self.feature,
            "text": self.text,
            "value": self.value,
            "contribution": self.contribution,
        }
        if self.related is not None:
            shown["related"] = self.related
        return shown


@dataclass(frozen=True, slots=True)
class Decision:
    """One applicant's decision under one policy version."""

    outcome: Outcome
    risk_class: str
    offer: float | None  # None: declined, or no coverage model
    reasons: tuple[Reason, ...]  # ranked, at most the policy's maximum; empty when not adverse
    reasons_complete: bool | None  # None: the model's attributions were not computed
    rules: tuple[FiredRule, ...]  # every rule that fired, in precedence order
    policy_version: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "risk_class": self.risk_class,
            "offer": self.offer,
            "reasons": [reason.to_json() for reason in self.reasons],
            "reasons_complete": self.reasons_complete,
            "rules": [rule.to_json() for rule in self.rules],
            "policy_version": self.policy_version,
        }
