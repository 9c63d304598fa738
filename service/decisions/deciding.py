"""Decide a scored batch: the policy's outcome, class and offer, and reasons for adverse ones.

Reasons are computed only where the outcome is not a standard acceptance (most applicants cost
nothing beyond the policy's few array operations). A request may skip the model's attributions
(bulk scoring): decisions the model rated then carry only knock-out reasons and
`reasons_complete: null`, saying the attributions were not computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract.explanations import Explanation
from contract.metadata import ModelMetadata
from policy.decide import Decisions, decide, non_empty
from policy.decision import Decision, Reason, rule_json
from policy.document import Policy
from policy.reasons import codes_over, ranked_many, reasons
from service.decisions.explaining import Attributions, attribute, subset
from service.inference.loader import LoadedModel
from service.inference.packing import Batch
from service.inference.prediction import COVERAGE_OUTPUT, Prediction
from service.inference.servable import Servable
from service.validation.records import ValidRecords


class _Values(Mapping[str, Any]):
    """One record's values, looked up only for the features a reason cites."""

    def __init__(self, records: ValidRecords, index: int) -> None:
        self.records, self.index = records, index

    def __getitem__(self, name: str) -> Any:
        return self.records.value(self.index, name)

    def __iter__(self) -> Any:
        raise TypeError("a record's values are looked up by name")

    def __len__(self) -> int:
        raise TypeError("a record's values are looked up by name")


def classifier(servable: Servable) -> LoadedModel:
    """The model whose classes the policy maps and whose explain signature gives reasons."""
    model = servable.explaining_model
    if model is None or model.metadata.class_names is None:
        raise ValueError(f"{servable.name} has no classifier with an explain signature")
    return model


def class_output(metadata: ModelMetadata) -> str:
    """The declared output holding the class probabilities."""
    names = tuple(metadata.class_names or ())
    return next(o.name for o in metadata.outputs if o.labels is not None and o.labels == names)


@dataclass(frozen=True)
class DecidedBatch:
    """A batch's decisions as arrays, with the reasons of the adverse ones only.

    Most records are standard acceptances: a whole book's decisions stay arrays (the batch
    scorer writes them as columns); only the adverse records carry reasons.
    """

    decisions: Decisions
    reasons: dict[int, list[Reason]]  # adverse record index -> its ranked reasons
    complete: dict[int, bool | None]  # adverse record index -> reasons_complete
    policy_version: int | None

    def decision(self, index: int) -> Decision:
        """One record's decision, typed."""
        arrays = self.decisions
        offer = float(arrays.offer[index])
        return Decision(
            outcome=arrays.outcome[index],
            risk_class=arrays.risk_class[index],
            offer=None if math.isnan(offer) else offer,
            reasons=tuple(self.reasons.get(index, ())),
            reasons_complete=self.complete.get(index, True),
            rules=tuple(arrays.rules[index]),
            policy_version=self.policy_version,
        )

    def per_record(self) -> list[Decision]:
        """Every record's decision, in order."""
        return [self.decision(i) for i in range(len(self.decisions.outcome))]

    def shown(self) -> list[dict[str, Any]]:
        """Every record's decision in its JSON form (`Decision.to_json`), in one pass over the
        arrays: what the record stores and every wire writes, built once per request.

        Most records are standard acceptances with no reason and no rule: no typed decision
        is built for them, only their JSON.
        """
        arrays, reasons, complete = self.decisions, self.reasons, self.complete
        rules = non_empty(arrays.rules)
        version = self.policy_version
        shown = []
        columns = arrays.outcome.tolist(), arrays.risk_class.tolist(), arrays.offer.tolist()
        for i, (outcome, risk_class, offer) in enumerate(zip(*columns, strict=True)):
            given, fired = reasons.get(i), rules.get(i)
            shown.append(
                {
                    "outcome": outcome,
                    "risk_class": risk_class,
                    "offer": None if math.isnan(offer) else offer,
                    "reasons": [reason.to_json() for reason in given] if given else [],
                    "reasons_complete": complete.get(i, True),
                    "rules": [rule_json(rule) for rule in fired] if fired else [],
                    "policy_version": version,
                }
            )
        return shown


# Rated records from which ranking reasons over one matrix pays: its few dozen array operations
# cost a single record's ranking three times over; 16 records cost about the same either way.
AT_ONCE = 16


def decide_scored(
    servable: Servable, batch: Batch, prediction: Prediction, records: ValidRecords, explain: bool
) -> DecidedBatch:
    """Decide every record; give reasons (and their completeness) to the adverse ones."""
    policy = servable.policy
    assert policy is not None
    model = classifier(servable)
    metadata = model.metadata
    class_names = tuple(metadata.class_names or ())
    needed = {rule.feature for rule in policy.knock_outs} | set(metadata.training_ranges)
    decided = decide(
        policy,
        {name: records.column(name) for name in needed},
        class_names,
        prediction.outputs[class_output(metadata)],
        prediction.outputs.get(COVERAGE_OUTPUT),
        records.requested(),
        metadata.training_ranges,
    )
    best = class_names[0]
    adverse = np.flatnonzero(~decided.standard_acceptance(best))
    # The model's factors are reasons only where the model itself rated the applicant: a
    # standard-class applicant referred for the amount asked or a value out of range is referred
    # for that rule (in `rules`), not for whatever factor was slightly above its reference.
    rated = adverse[decided.risk_class[adverse] != best]
    attributions = None
    if explain and len(rated) and model.explainer is not None:
        explained = metadata.explain
        assert explained is not None
        attributions = attribute(explained, model.explainer, subset(batch, rated))
    position = {int(i): k for k, i in enumerate(rated)}
    given: dict[int, list[Reason]] = {}
    completeness: dict[int, bool | None] = {}
    knocks = non_empty(decided.knocked_out)
    if attributions is not None and len(rated) >= AT_ONCE:  # those without a knock-out
        explained = metadata.explain
        assert explained is not None
        given |= _ranked_at_once(policy, explained, best, attributions, rated, decided, records)
    for i in adverse.tolist():
        by_feature: dict[str, float] | None = None
        complete: bool | None = True  # nothing of the model's to attribute
        if i in position and attributions is None:
            complete = None  # rated by the model, its attributions not computed
        elif i in given:  # ranked at once
            assert attributions is not None
            completeness[i] = bool(attributions.complete[position[i]])
            continue
        elif i in position:
            by_feature, complete = _attributions(
                model, attributions, position[i], decided.risk_class[i], best
            )
        knocked = knocks.get(i, [])
        if knocked or by_feature is not None:
            given[i] = reasons(policy, knocked, by_feature, _Values(records, i))
        else:  # no knock-out and no attributions asked for: nothing to rank
            given[i] = []
        completeness[i] = complete
    return DecidedBatch(decided, given, completeness, policy.version)


def _ranked_at_once(
    policy: Policy,
    explained: Explanation,
    best: str,
    attributions: Attributions,
    rated: np.ndarray,
    decided: Decisions,
    records: ValidRecords,
) -> dict[int, list[Reason]]:
    """The reasons of the rated records (`attributions` explain them, in order) with no
    knock-out and finite attributions, ranked over one matrix (`ranked_many`); the others are
    left to the record-by-record ranking."""
    codes = codes_over(policy, explained.features)  # microseconds: a pass over the features
    if codes is None:
        return {}
    labels = decided.risk_class[rated]
    kind = np.result_type(*attributions.by_target.values())  # as the model gave them
    matrix = np.zeros((len(rated), len(explained.features)), dtype=kind)
    for label in set(labels.tolist()):  # each class's records, from the target explaining it
        rows = labels == label
        matrix[rows] = attributions.by_target[explained.target_for(label, best)][rows]
    knocked = list(non_empty(decided.knocked_out))
    plain = np.isfinite(matrix).all(axis=1) & np.isin(rated, knocked, invert=True)
    chosen = np.flatnonzero(plain)
    indices = rated[chosen].tolist()
    ranked = ranked_many(policy, codes, matrix[chosen], [_Values(records, i) for i in indices])
    return dict(zip(indices, ranked, strict=True))


def _attributions(
    model: LoadedModel, attributions: Attributions | None, position: int, label: str, best: str
) -> tuple[dict[str, float] | None, bool | None]:
    """One record's attributions to the target explaining its class, and their completeness."""
    explained = model.metadata.explain
    if attributions is None or explained is None:
        return None, None
    target = explained.target_for(label, best)
    row = attributions.by_target[target][position].tolist()
    return dict(zip(explained.features, row, strict=True)), bool(attributions.complete[position])
