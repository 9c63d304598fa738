"""Apply a policy to scored records: an outcome, the class, an offer and the rules that fired.

Precedence, per record: a knock-out that declines decides; doubt about the model (a value outside
the training ranges, or a top class probability below the threshold) refers instead of trusting
its class; otherwise the model's class gives the outcome, made at least as severe as any
knock-out that refers; an acceptance whose requested amount exceeds the offer or the
accelerated-underwriting limit is referred. Vectorised: a batch of 10,000 costs a few arrays.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

import numpy as np

from policy.document import KnockOut, Policy

SEVERITY = {"accept": 0, "refer": 1, "decline": 2}
_BY_SEVERITY = np.asarray(["accept", "refer", "decline"], dtype=object)


T = TypeVar("T")


@dataclass
class PerRecord(Sequence[list[T]], Generic[T]):
    """One list per record, stored only where it is not empty: most records fire no rule, and a
    book of a million records should not cost two million empty lists."""

    size: int
    given: dict[int, list[T]] = field(default_factory=dict)

    def add(self, index: int, item: T) -> None:
        self.given.setdefault(index, []).append(item)

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> list[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[list[T]]: ...
    def __getitem__(self, index: int | slice) -> list[T] | Sequence[list[T]]:
        if type(index) is int and (listed := self.given.get(index)) is not None:
            return listed
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        return self.given.get(index % self.size, [])

    def __iter__(self) -> Iterator[list[T]]:
        return (self.given.get(i, []) for i in range(self.size))


def non_empty(per_record: Sequence[list[T]]) -> Mapping[int, list[T]]:
    """The records whose list is not empty (a PerRecord already holds only those)."""
    if isinstance(per_record, PerRecord):
        return per_record.given
    return {i: listed for i, listed in enumerate(per_record) if listed}


@dataclass(frozen=True)
class Decisions:
    """The decisions for N records, as arrays, and each record's fired rules."""

    outcome: np.ndarray  # object [N]: accept | refer | decline
    risk_class: np.ndarray  # object [N]: the model's class
    offer: np.ndarray  # float64 [N]: NaN where there is none (declined, or no coverage model)
    rules: Sequence[list[dict[str, Any]]]  # per record: each fired rule, as the response shows
    knocked_out: Sequence[list[KnockOut]]  # per record: the knock-outs that fired, in order

    def standard_acceptance(self, standard: str) -> np.ndarray:
        """True where the outcome needs no reasons: accepted at the best class."""
        return (self.outcome == "accept") & (self.risk_class == standard)


def decide(
    policy: Policy,
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    class_names: Sequence[str],
    probabilities: np.ndarray,
    coverage: np.ndarray | None,
    requested: np.ndarray | None,
    training_ranges: Mapping[str, tuple[float, float]],
) -> Decisions:
    """Decide every record; `requested` is NaN where a record asked for no amount."""
    size = len(probabilities)
    if size == 1:  # the common request: plain Python beats thirty one-element array operations
        return _decide_one(policy, columns, class_names, probabilities, coverage, requested,
                           training_ranges)  # fmt: skip
    labels = np.asarray(class_names, dtype=object)
    index = probabilities.argmax(axis=1)
    risk_class = labels[index]
    model = np.asarray([SEVERITY[policy.outcomes.get(c, "refer")] for c in class_names])[index]
    rules: PerRecord[dict[str, Any]] = PerRecord(size)
    knocked_out: PerRecord[KnockOut] = PerRecord(size)
    knock_severity = np.zeros(size, dtype=np.int64)
    for rule in policy.knock_outs:
        fires = _fires(rule, columns[rule.feature])
        if not fires.any():  # the usual case: skip the per-record work
            continue
        for i in np.flatnonzero(fires):
            knock_severity[i] = max(knock_severity[i], SEVERITY[rule.outcome])
            knocked_out.add(int(i), rule)
            value = _plain(columns[rule.feature][int(i)])
            rules.add(int(i), {"rule": "knock_out", **rule.wording.to_json(),
                             "feature": rule.feature, "value": value})  # fmt: skip
    ranged = [name for name in training_ranges if name in columns]
    doubt = np.zeros(size, dtype=bool)
    if ranged:  # one matrix for every range: a record costs one comparison, not one per feature
        values = np.array([columns[name] for name in ranged], dtype=np.float64)
        bounds = np.array([training_ranges[name] for name in ranged], dtype=np.float64)
        outside = (values < bounds[:, :1]) | (values > bounds[:, 1:])
        if outside.any():
            for j, i in zip(*np.nonzero(outside), strict=True):
                name, (low, high) = ranged[j], training_ranges[ranged[j]]
                doubt[i] = True
                rules.add(int(i), {"rule": "out_of_range", **policy.out_of_range.to_json(),
                                 "feature": name, "value": _plain(columns[name][int(i)]),
                                 "range": [low, high]})  # fmt: skip
    top = probabilities.max(axis=1).astype(np.float64)  # as the one-record path compares it
    unsure = top < policy.minimum_top_probability
    for i in np.flatnonzero(unsure) if unsure.any() else ():
        rules.add(int(i), {"rule": "confidence", **policy.confidence.to_json(),
                         "top_probability": round(float(top[i]), 4),
                         "threshold": policy.minimum_top_probability})  # fmt: skip
    doubt_severity = np.maximum(
        np.where(doubt, SEVERITY[policy.out_of_range_outcome], 0),
        np.where(unsure, SEVERITY[policy.confidence_outcome], 0),
    )
    severity = np.where(doubt | unsure, doubt_severity, model)
    severity = np.maximum(severity, knock_severity)
    declined_by_rule = knock_severity == SEVERITY["decline"]
    severity = np.where(declined_by_rule, SEVERITY["decline"], severity)
    offer = np.full(size, np.nan)
    if coverage is not None:
        stepped = np.floor(np.asarray(coverage, np.float64) / policy.offer_step) * policy.offer_step
        offer = np.minimum(stepped, policy.accelerated_limit)
    if requested is not None:
        asked = np.asarray(requested, dtype=np.float64)
        accepted = severity == SEVERITY["accept"]
        above_limit = accepted & (asked > policy.accelerated_limit)
        above_offer = accepted & ~above_limit & (asked > offer)
        for mask, wording, bound, key in (
            (above_limit, policy.above_limit, np.full(size, policy.accelerated_limit), "limit"),
            (above_offer, policy.above_offer, offer, "offer"),
        ):
            for i in np.flatnonzero(mask):
                rules.add(int(i), {"rule": "face_amount", **wording.to_json(),
                                 "requested": float(asked[i]), key: float(bound[i])})  # fmt: skip
        severity = np.where(above_limit | above_offer, SEVERITY["refer"], severity)
    nothing = (severity == SEVERITY["accept"]) & (offer < policy.offer_step)  # NaN: no model
    for i in np.flatnonzero(nothing) if nothing.any() else ():
        rules.add(int(i), {"rule": "face_amount", **policy.no_offer.to_json(), "offer": 0.0})
    severity = np.where(nothing, SEVERITY["refer"], severity)
    offer = np.where(severity == SEVERITY["decline"], np.nan, offer)
    return Decisions(_BY_SEVERITY[severity], risk_class, offer, rules, knocked_out)


def _decide_one(
    policy: Policy,
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    class_names: Sequence[str],
    probabilities: np.ndarray,
    coverage: np.ndarray | None,
    requested: np.ndarray | None,
    training_ranges: Mapping[str, tuple[float, float]],
) -> Decisions:
    """`decide` for one record, rule for rule the same (a test holds the two paths equal)."""
    row = probabilities[0].tolist()
    top = max(row)
    risk_class = class_names[row.index(top)]
    rules: list[dict[str, Any]] = []
    knocked: list[KnockOut] = []
    knock = 0
    for rule in policy.knock_outs:
        value = _plain(columns[rule.feature][0])
        if _holds(rule, value):
            knock = max(knock, SEVERITY[rule.outcome])
            knocked.append(rule)
            rules.append({"rule": "knock_out", **rule.wording.to_json(), "feature": rule.feature,
                          "value": value})  # fmt: skip
    doubt = 0
    for name, (low, high) in training_ranges.items():
        if name in columns and not low <= (value := _plain(columns[name][0])) <= high:
            doubt = max(doubt, SEVERITY[policy.out_of_range_outcome])
            rules.append({"rule": "out_of_range", **policy.out_of_range.to_json(),
                          "feature": name, "value": value, "range": [low, high]})  # fmt: skip
    unsure = top < policy.minimum_top_probability
    if unsure:
        doubt = max(doubt, SEVERITY[policy.confidence_outcome])
        rules.append({"rule": "confidence", **policy.confidence.to_json(),
                      "top_probability": round(float(top), 4),
                      "threshold": policy.minimum_top_probability})  # fmt: skip
    in_range = not any(r["rule"] == "out_of_range" for r in rules)
    severity = SEVERITY[policy.outcomes.get(risk_class, "refer")]
    if unsure or not in_range:
        severity = doubt
    severity = SEVERITY["decline"] if knock == SEVERITY["decline"] else max(severity, knock)
    offer = math.nan
    if coverage is not None:
        stepped = math.floor(float(coverage[0]) / policy.offer_step) * policy.offer_step
        offer = min(stepped, policy.accelerated_limit)
    asked = math.nan if requested is None else float(requested[0])
    if severity == SEVERITY["accept"] and asked > policy.accelerated_limit:
        severity = SEVERITY["refer"]
        rules.append({"rule": "face_amount", **policy.above_limit.to_json(), "requested": asked,
                      "limit": float(policy.accelerated_limit)})  # fmt: skip
    elif severity == SEVERITY["accept"] and asked > offer:
        severity = SEVERITY["refer"]
        rules.append({"rule": "face_amount", **policy.above_offer.to_json(), "requested": asked,
                      "offer": float(offer)})  # fmt: skip
    if severity == SEVERITY["accept"] and offer < policy.offer_step:
        severity = SEVERITY["refer"]
        rules.append({"rule": "face_amount", **policy.no_offer.to_json(), "offer": 0.0})
    if severity == SEVERITY["decline"]:
        offer = math.nan
    return Decisions(
        _BY_SEVERITY[[severity]], np.asarray([risk_class], dtype=object), np.asarray([offer]),
        [rules], [knocked],
    )  # fmt: skip


def _holds(rule: KnockOut, value: Any) -> bool:
    """One knock-out's condition on one value."""
    if rule.comparison == "in":
        assert isinstance(rule.bound, tuple)
        return value in rule.bound
    bound = float(rule.bound)  # type: ignore[arg-type]
    match rule.comparison:
        case "above":
            return bool(value > bound)
        case "at_least":
            return bool(value >= bound)
        case "below":
            return bool(value < bound)
        case _:
            return bool(value <= bound)


def _fires(rule: KnockOut, values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Where one knock-out's condition holds."""
    if rule.comparison == "in":
        assert isinstance(rule.bound, tuple)
        fires = np.zeros(len(values), dtype=bool)
        array = np.asarray(values, dtype=object)
        for category in rule.bound:  # a few categories: a comparison over the column each
            fires |= array == category
        return fires
    numbers = np.asarray(values, dtype=np.float64)
    bound = float(rule.bound)  # type: ignore[arg-type]
    match rule.comparison:
        case "above":
            return numbers > bound
        case "at_least":
            return numbers >= bound
        case "below":
            return numbers < bound
        case _:
            return numbers <= bound


def _plain(value: Any) -> Any:
    """A NumPy scalar as the plain Python value JSON carries."""
    return value.item() if isinstance(value, np.generic) else value


def straight_through(decisions: Decisions) -> dict[str, Any]:
    """The outcome mix of a set of decisions and the share accepted without an underwriter."""
    size = len(decisions.outcome)
    mix = {o: int(np.sum(decisions.outcome == o)) for o in ("accept", "refer", "decline")}
    return {
        "records": size,
        "outcomes": mix,
        "straight_through_rate": (mix["accept"] + mix["decline"]) / size if size else 0.0,
        "acceptance_rate": mix["accept"] / size if size else 0.0,
    }
