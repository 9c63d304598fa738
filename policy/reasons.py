"""Turn one record's attributions and fired knock-outs into at most four ranked reasons.

Each reason is `{code, feature, text, value, contribution}`: the wording the policy declares for
the feature (or the knock-out's own), the applicant's own value (the specific item of information
behind it) and how much the feature raised the explained probability above the applicant's
best-risk reference. Knock-outs come first, in policy order; then features by contribution,
largest first, at least the policy's minimum. Features sharing a code (height and weight: build)
give one reason, their contributions summed, the others' values under `related` (always: they
are items of the same reason, even one that contributed nothing, as height at its own BMI).
Only features the model explains (those with a declared risk direction) can be reasons: no
protected attribute, no score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policy.document import KnockOut, Policy


def reasons(
    policy: Policy,
    knocked_out: Sequence[KnockOut],
    attributions: Mapping[str, float] | None,
    values: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Rank the reasons for one adverse decision (attributions None: knock-outs only)."""
    chosen: list[dict[str, Any]] = []
    cited: set[str] = set()
    for rule in knocked_out:
        if rule.feature in cited:
            continue
        cited.add(rule.feature)
        contribution = None if attributions is None else attributions.get(rule.feature)
        chosen.append(
            _reason(
                rule.wording.code,
                rule.wording.text,
                rule.feature,
                values.get(rule.feature),
                contribution,
            )
        )
    if attributions is not None:
        by_code: dict[str, dict[str, Any]] = {}  # a code's reason: its largest feature leads
        ranked = sorted(attributions.items(), key=lambda item: -item[1])
        for feature, contribution in ranked:
            wording = policy.wording.get(feature)
            if wording is None or feature in cited or contribution <= 0:
                continue
            if (merged := by_code.get(wording.code)) is not None:
                merged["contribution"] += contribution
                continue
            reason = _reason(wording.code, wording.text, feature, values.get(feature), None)
            reason["contribution"] = contribution
            # The features sharing its code are items of the same reason (build: height too).
            if related := [f for f in policy.features_by_code[wording.code] if f != feature]:
                reason["related"] = {f: values.get(f) for f in related}
            by_code[wording.code] = reason
        for reason in by_code.values():  # the minimum applies to what the reason adds up to
            if reason["contribution"] >= policy.minimum_contribution:
                reason["contribution"] = _round(reason["contribution"])
                chosen.append(reason)
    # A merged pair can overtake the single feature before it: rank knock-outs, then the rest.
    head = chosen[: len({r.feature for r in knocked_out})]
    tail = sorted(chosen[len(head) :], key=lambda r: -r["contribution"])
    return (head + tail)[: policy.maximum_reasons]


def _reason(
    code: str, text: str, feature: str, value: Any, contribution: float | None
) -> dict[str, Any]:
    return {
        "code": code,
        "feature": feature,
        "text": text,
        "value": value,
        "contribution": None if contribution is None else _round(contribution),
    }


def _round(contribution: float) -> float:
    """Four decimals of probability: what a letter or an examiner can read."""
    return round(float(contribution), 4)
