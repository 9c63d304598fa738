"""Turn one record's attributions and fired knock-outs into at most four ranked reasons.

Each reason is a `Reason` (as JSON `{code, feature, text, value, contribution}`): the wording
the policy declares for the feature's code (or the knock-out's own), the applicant's own value
(the specific item of information behind it) and how much the feature raised the explained
probability above the applicant's best-risk reference. Knock-outs come first, in policy order;
then features by contribution, largest first, at least the policy's minimum. Features sharing a
code (height and weight: build) give one reason, their contributions summed, the others' values
under `related` (always: they are items of the same reason, even one that contributed nothing,
as height at its own BMI).
Only features the model explains (those with a declared risk direction) can be reasons: no
protected attribute, no score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policy.decision import Reason
from policy.document import KnockOut, Policy


def reasons(
    policy: Policy,
    knocked_out: Sequence[KnockOut],
    attributions: Mapping[str, float] | None,
    values: Mapping[str, Any],
) -> list[Reason]:
    """Rank the reasons for one adverse decision (attributions None: knock-outs only)."""
    chosen: list[Reason] = []
    cited: set[str] = set()
    for rule in knocked_out:
        if rule.feature in cited:
            continue
        cited.add(rule.feature)
        contribution = None if attributions is None else attributions.get(rule.feature)
        rounded = None if contribution is None else _round(contribution)
        code, text = rule.wording.code, rule.wording.text
        chosen.append(Reason(code, rule.feature, text, values.get(rule.feature), rounded))
    if attributions is not None:
        by_code: dict[str, tuple[str, float]] = {}  # a code's reason: its largest feature leads
        ranked = sorted(attributions.items(), key=lambda item: -item[1])
        for feature, contribution in ranked:
            wording = policy.wording.get(feature)
            if wording is None or feature in cited or contribution <= 0:
                continue
            leading, total = by_code.get(wording.code, (feature, 0.0))
            by_code[wording.code] = (leading, total + contribution)
        for code, (feature, total) in by_code.items():
            if total >= policy.minimum_contribution:  # what the reason adds up to
                chosen.append(_attributed(policy, code, feature, total, values))
    # A merged pair can overtake the single feature before it: rank knock-outs, then the rest.
    head = chosen[: len({r.feature for r in knocked_out})]
    tail = sorted(chosen[len(head) :], key=lambda r: -(r.contribution or 0.0))
    return (head + tail)[: policy.maximum_reasons]


def _attributed(
    policy: Policy, code: str, feature: str, total: float, values: Mapping[str, Any]
) -> Reason:
    """The reason of a code the model's attributions give, led by its largest feature; the
    features sharing its code are items of the same reason (build: height too)."""
    related = [f for f in policy.features_by_code[code] if f != feature]
    return Reason(
        code,
        feature,
        policy.wording[feature].text,
        values.get(feature),
        _round(total),
        {f: values.get(f) for f in related} if related else None,
    )


def _round(contribution: float) -> float:
    """Four decimals of probability: what a letter or an examiner can read."""
    return round(float(contribution), 4)
