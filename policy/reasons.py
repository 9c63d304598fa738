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
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    if attributions is not None and len(chosen) < policy.maximum_reasons:
        by_code: dict[str, tuple[str, float]] = {}  # a code's reason: its largest feature leads
        ranked = sorted(attributions.items(), key=_largest_first)
        wording = policy.wording
        for feature, contribution in ranked:
            worded = wording.get(feature)
            if worded is None or feature in cited or contribution <= 0:
                continue
            leading, total = by_code.get(worded.code, (feature, 0.0))
            by_code[worded.code] = (leading, total + contribution)
        # A merged pair can overtake the single feature before it: rank the codes by what they
        # add up to (as shown, rounded; ties keep the order above), then word only those kept.
        totals = [
            (code, feature, _round(total))
            for code, (feature, total) in by_code.items()
            if total >= policy.minimum_contribution  # what the reason adds up to
        ]
        totals.sort(key=_largest_total)
        for code, feature, rounded in totals[: policy.maximum_reasons - len(chosen)]:
            chosen.append(_attributed(policy, code, feature, rounded, values))
    return chosen[: policy.maximum_reasons]


def _largest_first(item: tuple[str, float]) -> float:
    return -item[1]


def _largest_total(total: tuple[str, str, float]) -> float:
    return -total[2]


def _attributed(
    policy: Policy, code: str, feature: str, rounded: float, values: Mapping[str, Any]
) -> Reason:
    """The reason of a code the model's attributions give, led by its largest feature; the
    features sharing its code are items of the same reason (build: height too)."""
    related = [f for f in policy.features_by_code[code] if f != feature]
    return Reason(
        code,
        feature,
        policy.wording[feature].text,
        values.get(feature),
        rounded,
        {f: values.get(f) for f in related} if related else None,
    )


def _round(contribution: float) -> float:
    """Four decimals of probability: what a letter or an examiner can read."""
    return round(float(contribution), 4)


@dataclass(frozen=True)
class Codes:
    """A policy's reason codes over the columns of an attribution matrix, for `ranked_many`."""

    names: tuple[str, ...]
    members: tuple[tuple[int, ...], ...]  # per code, its features' columns, in column order
    features: tuple[str, ...]  # the matrix's columns


def codes_over(policy: Policy, features: Sequence[str]) -> Codes | None:
    """The codes of the worded features among `features`; None where a code has three or more
    (their sum's order would have to follow the ranking's: `reasons` ranks those)."""
    members: dict[str, list[int]] = {}
    for column, feature in enumerate(features):
        worded = policy.wording.get(feature)
        if worded is not None:
            members.setdefault(worded.code, []).append(column)
    if any(len(columns) > 2 for columns in members.values()):
        return None
    return Codes(tuple(members), tuple(tuple(c) for c in members.values()), tuple(features))


def ranked_many(
    policy: Policy, codes: Codes, attributions: np.ndarray, values: Sequence[Mapping[str, Any]]
) -> list[list[Reason]]:
    """`reasons` for many records at once, each with no knock-out and finite attributions:
    each code's total and leading feature over the whole matrix [N, features], then each
    record's few codes ranked.

    The same reasons `reasons` gives, record by record (a property test holds them equal).
    """
    positive = np.where(attributions > 0, attributions.astype(np.float64), 0.0)
    size = len(positive)
    totals = np.zeros((size, len(codes.names)))
    leading = np.zeros((size, len(codes.names)))  # the leading feature's contribution
    lead = np.zeros((size, len(codes.names)), dtype=np.int64)  # and its column
    for c, columns in enumerate(codes.members):
        first = positive[:, columns[0]]
        if len(columns) == 1:
            totals[:, c], leading[:, c], lead[:, c] = first, first, columns[0]
            continue
        second = positive[:, columns[1]]
        after = second > first  # a tie goes to the earlier column, as the ranking's sort does
        totals[:, c] = first + second  # two terms: the same sum in either order
        leading[:, c] = np.maximum(first, second)
        lead[:, c] = np.where(after, columns[1], columns[0])
    kept = (leading > 0) & (totals >= policy.minimum_contribution)
    rows, chosen = np.nonzero(kept)
    by_record: list[list[tuple[float, float, int, int]]] = [[] for _ in range(size)]
    for i, c, total, value, column in zip(
        rows.tolist(),
        chosen.tolist(),
        totals[rows, chosen].tolist(),
        leading[rows, chosen].tolist(),
        lead[rows, chosen].tolist(),
        strict=True,
    ):
        # Ranked by the total as shown, then as the ranking met the codes: by their leading
        # feature's contribution, then its column.
        by_record[i].append((-_round(total), -value, column, c))
    limit = policy.maximum_reasons
    # Each leading feature's wording and the features sharing its code, looked up once.
    worded = {
        column: (
            codes.names[c],
            codes.features[column],
            policy.wording[codes.features[column]].text,
            [f for f in policy.features_by_code[codes.names[c]] if f != codes.features[column]],
        )
        for c, columns in enumerate(codes.members)
        for column in columns
    }
    given = []
    for candidates, applicant in zip(by_record, values, strict=True):
        candidates.sort()
        ranked = []
        for negative, _, column, _ in candidates[:limit]:
            code, feature, text, related = worded[column]
            items = {f: applicant.get(f) for f in related} if related else None
            ranked.append(Reason(code, feature, text, applicant.get(feature), -negative, items))
        given.append(ranked)
    return given
