"""A decision as typed values: the outcome, the class, the offer, the reasons and the fired rules.

The policy produces them (decide.py, reasons.py); every consumer reads these types, and each
wire has one encoder: `to_json` here is the JSON form that REST answers, V2 tensors carry and the
decision record stores (keys in the order responses have always shown them; the record sorts
them before hashing), the batch scorer writes columns, a future wire its own messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from policy.document import Outcome

# Each kind of fired rule is its own type: its fields are exactly what the rule compared, in the
# order the JSON form shows them (`rule`, `code`, `text` first), so a wire encoder (orjson) can
# write one natively.


@dataclass(frozen=True, slots=True)
class KnockOutFired:
    """A knock-out held for the applicant's value of its feature."""

    rule: Literal["knock_out"] = field(default="knock_out", init=False)
    code: str
    text: str
    feature: str
    value: Any


@dataclass(frozen=True, slots=True)
class OutOfRangeFired:
    """A value lay outside the range the model was trained on."""

    rule: Literal["out_of_range"] = field(default="out_of_range", init=False)
    code: str
    text: str
    feature: str
    value: Any
    range: tuple[float, float]


@dataclass(frozen=True, slots=True)
class ConfidenceFired:
    """The model's largest class probability fell below the policy's minimum."""

    rule: Literal["confidence"] = field(default="confidence", init=False)
    code: str
    text: str
    top_probability: float
    threshold: float


@dataclass(frozen=True, slots=True)
class AboveLimitFired:
    """The amount applied for exceeds the accelerated-underwriting limit."""

    rule: Literal["face_amount"] = field(default="face_amount", init=False)
    code: str
    text: str
    requested: float
    limit: float


@dataclass(frozen=True, slots=True)
class AboveOfferFired:
    """The amount applied for exceeds the offer."""

    rule: Literal["face_amount"] = field(default="face_amount", init=False)
    code: str
    text: str
    requested: float
    offer: float


@dataclass(frozen=True, slots=True)
class NoOfferFired:
    """The offer rounds down to nothing (`offer` is 0.0)."""

    rule: Literal["face_amount"] = field(default="face_amount", init=False)
    code: str
    text: str
    offer: float = 0.0


FiredRule = (
    KnockOutFired
    | OutOfRangeFired
    | ConfidenceFired
    | AboveLimitFired
    | AboveOfferFired
    | NoOfferFired
)


RULE_KINDS: tuple[type[FiredRule], ...] = (
    KnockOutFired,
    OutOfRangeFired,
    ConfidenceFired,
    AboveLimitFired,
    AboveOfferFired,
    NoOfferFired,
)


def rule_json(rule: FiredRule) -> dict[str, Any]:
    """A fired rule's JSON form: its fields in order (a range as a list)."""
    shown = {name: getattr(rule, name) for name in rule.__slots__}
    if "range" in shown:
        shown["range"] = list(shown["range"])
    return shown


def rule_from_json(shown: dict[str, Any]) -> FiredRule:
    """The fired rule a JSON form describes: the kind whose rule and fields it names exactly."""
    fields = {name: value for name, value in shown.items() if name != "rule"}
    for kind in RULE_KINDS:
        named = kind.__dataclass_fields__["rule"].default
        if named == shown.get("rule") and set(kind.__slots__) == {"rule", *fields}:
            if "range" in fields:
                fields["range"] = tuple(fields["range"])
            return kind(**fields)
    raise ValueError(f"not a fired rule's JSON form: {sorted(shown)}")


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
            "rules": [rule_json(rule) for rule in self.rules],
            "policy_version": self.policy_version,
        }

    @classmethod
    def from_json(cls, shown: dict[str, Any]) -> Decision:
        """The decision a JSON form (`to_json`, as recorded) describes."""
        return cls(
            outcome=shown["outcome"],
            risk_class=shown["risk_class"],
            offer=shown["offer"],
            reasons=tuple(Reason(**reason) for reason in shown["reasons"]),
            reasons_complete=shown["reasons_complete"],
            rules=tuple(rule_from_json(rule) for rule in shown["rules"]),
            policy_version=shown["policy_version"],
        )
