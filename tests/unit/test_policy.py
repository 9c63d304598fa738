"""The decision policy: its document, publication, precedence of rules and reason ranking."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.checksums import sealed_digest
from contract.errors import ContractError
from policy import reasons as ranking
from policy.decide import decide, straight_through
from policy.decision import (
    AboveLimitFired,
    AboveOfferFired,
    ConfidenceFired,
    FiredRule,
    KnockOutFired,
    NoOfferFired,
    OutOfRangeFired,
    Reason,
    rule_json,
)
from policy.document import DIGEST_KEY, POLICY_FILE, POLICY_NAME, Policy, read_policy, sealed
from policy.publish import DEFAULT_SOURCE, load_source, publish
from training.features import FEATURES

CLASSES = ("standard", "substandard", "decline")
DIRECTED = tuple(f.name for f in FEATURES if f.risk is not None)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_source(DEFAULT_SOURCE)


def source() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(DEFAULT_SOURCE.read_text())
    return raw


def applicant(**changes: Any) -> dict[str, Any]:
    base = {
        "hba1c": 5.4,
        "dui_count_5y": 0,
        "cancer_history": "none",
        "cardiac_history": "none",
        "age": 40,
        "systolic_bp": 120,
    }
    return base | changes


def decide_one(
    policy: Policy,
    record: dict[str, Any],
    probabilities: list[float],
    coverage: float | None = 512_345.0,
    requested: float | None = None,
) -> tuple[str, float, list[dict[str, Any]]]:
    columns = {name: np.asarray([value]) for name, value in record.items()}
    decided = decide(
        policy,
        columns,
        CLASSES,
        np.asarray([probabilities]),
        None if coverage is None else np.asarray([coverage]),
        np.asarray([np.nan if requested is None else requested]),
        {"age": (18.0, 80.0), "systolic_bp": (85.0, 220.0)},
    )
    return (
        str(decided.outcome[0]),
        float(decided.offer[0]),
        [rule_json(rule) for rule in decided.rules[0]],
    )


def reasons(
    policy: Policy,
    knocked_out: list[Any],
    attributions: dict[str, float] | None,
    values: dict[str, Any],
) -> list[dict[str, Any]]:
    """The ranked reasons in their JSON form, as a response and the record carry them."""
    return [r.to_json() for r in ranking.reasons(policy, knocked_out, attributions, values)]


def test_the_shipped_policy_words_a_reason_for_every_directed_feature(policy: Policy) -> None:
    policy.check_against(FEATURES, DIRECTED)
    assert policy.maximum_reasons == 4


def test_a_policy_without_wording_for_a_directed_feature_is_refused(policy: Policy) -> None:
    raw = source()
    del raw["reasons"]["features"]["hba1c"], raw["reasons"]["codes"]["R07"]
    with pytest.raises(ContractError, match="no reason wording for \\['hba1c'\\]"):
        Policy.from_json(raw).check_against(FEATURES, DIRECTED)
    raw = source()
    raw["reasons"]["codes"]["R99"] = "Too old"
    raw["reasons"]["features"]["age"] = "R99"
    with pytest.raises(ContractError, match="cannot be reasons: \\['age'\\]"):
        Policy.from_json(raw).check_against(FEATURES, DIRECTED)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["outcomes"].update(standard="approve"), "outcomes.standard must be one of"),
        (lambda r: r["knock_outs"][0].update(below=3), "exactly one of"),
        (lambda r: r["reasons"].update(maximum=5), "reasons.maximum must be 1 to 4"),
        (lambda r: r["confidence"].pop("code"), "confidence lacks 'code'"),
        (lambda r: r["face_amount"].update(offer_step=0), "must be positive"),
        (lambda r: r["confidence"].update(minimum_top_probability=True), "finite number"),
        # A misspelt or invented key is refused, never silently ignored.
        (
            lambda r: r["confidence"].update(threshold=0.7),
            "confidence has unknown keys \\['threshold'\\]",
        ),
        (lambda r: r.update(confidence_threshold=0.7), "policy has unknown keys"),
        (lambda r: r["knock_outs"][0].update(outcom="refer"), "knock_outs\\[0\\] has unknown keys"),
        (lambda r: r["reasons"].update(texts={}), "reasons has unknown keys \\['texts'\\]"),
    ],
)
def test_an_unclear_policy_is_refused_naming_the_key(edit: Any, message: str) -> None:
    raw = source()
    edit(raw)
    with pytest.raises(ContractError, match=message):
        Policy.from_json(raw)


def test_a_knock_out_must_fit_its_feature(policy: Policy) -> None:
    raw = source()
    raw["knock_outs"][2]["in"] = ["metastatic"]
    with pytest.raises(ContractError, match="unknown \\['metastatic'\\]"):
        Policy.from_json(raw).check_against(FEATURES, DIRECTED)
    raw = source()
    raw["knock_outs"][0] = {**raw["knock_outs"][0], "feature": "tobacco_use"}
    with pytest.raises(ContractError, match="does not apply to category"):
        Policy.from_json(raw).check_against(FEATURES, DIRECTED)


def test_each_reason_code_is_worded_once_and_features_map_to_codes(policy: Policy) -> None:
    raw = source()["reasons"]
    assert set(raw) == {"maximum", "minimum_contribution", "codes", "features"}
    assert policy.wording["height_cm"] == policy.wording["weight_kg"]  # build: one code, one text
    assert policy.features_by_code["R06"] == ("total_cholesterol", "hdl_cholesterol")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["features"].update(hba1c="R99"), "no text for code 'R99'"),
        (lambda r: r["features"].update(hba1c=["R07"]), "no text for code"),
        (lambda r: r["codes"].update(R99="Unused"), "no feature has the codes \\['R99'\\]"),
        (lambda r: r["codes"].update(R07=" "), "must be non-empty text"),
        (lambda r: r.update(wording={}), "not both"),
        (lambda r: r["codes"].update({"": "Blank"}), "codes\\.\\.code must be non-empty"),
    ],
)
def test_reason_wording_that_does_not_add_up_is_refused(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw = source()
    change(raw["reasons"])
    with pytest.raises(ContractError, match=message):
        Policy.from_json(raw)


def first_layout(raw: dict[str, Any]) -> dict[str, Any]:
    """A policy document in the first layout: each feature's code and text, repeated per code."""
    reasons = raw["reasons"]
    wording = {f: {"code": c, "text": reasons["codes"][c]} for f, c in reasons["features"].items()}
    raw["reasons"] = {k: v for k, v in reasons.items() if k not in ("codes", "features")}
    raw["reasons"]["wording"] = wording
    return raw


def test_a_policy_in_the_first_layout_reads_alike_and_keeps_its_digest(
    policy: Policy, tmp_path: Path
) -> None:
    """Versions published before wording was kept once per code still serve, under the same
    rules digest their models were validated with."""
    old = Policy.from_json(first_layout(source()))
    assert old.wording == policy.wording and old.rules_digest == policy.rules_digest
    published = tmp_path / POLICY_NAME / "1"
    published.mkdir(parents=True)
    content = first_layout(sealed(dataclasses.replace(policy, version=1)))
    content |= {"format_version": 1}
    content[DIGEST_KEY] = sealed_digest(content, DIGEST_KEY)
    (published / POLICY_FILE).write_text(json.dumps(content))
    assert read_policy(published, 1).wording == policy.wording
    mislabelled = source() | {"format_version": 1}  # the second layout said to be the first
    with pytest.raises(ContractError, match="format_version 1 words reasons in `wording`"):
        Policy.from_json(mislabelled)
    raw = first_layout(source())
    raw["reasons"]["wording"]["height_cm"]["text"] = "Height"  # R01 would have two texts
    with pytest.raises(ContractError, match="R01 has two texts"):
        Policy.from_json(raw)


def test_publication_numbers_versions_and_seals_them(tmp_path: Path) -> None:
    first, policy = publish(DEFAULT_SOURCE, tmp_path)
    second, _ = publish(DEFAULT_SOURCE, tmp_path)
    assert (first.name, second.name, policy.version) == ("1", "2", 1)
    assert read_policy(second, 2).wording == policy.wording
    raw = json.loads((second / POLICY_FILE).read_text())
    raw["confidence"]["minimum_top_probability"] = 0.1  # an edit after publication
    (second / POLICY_FILE).write_text(json.dumps(raw))
    with pytest.raises(ContractError, match="changed after publication"):
        read_policy(second, 2)
    with pytest.raises(ContractError, match="says version 1, directory 7"):
        read_policy(first, 7)


def test_the_model_class_decides_when_no_rule_fires(policy: Policy) -> None:
    outcome, offer, rules = decide_one(policy, applicant(), [0.9, 0.08, 0.02])
    assert (outcome, offer, rules) == ("accept", 510_000.0, [])  # rounded down to $10,000
    outcome, offer, _ = decide_one(policy, applicant(), [0.05, 0.15, 0.8])
    assert outcome == "decline" and np.isnan(offer)


def test_a_declining_knock_out_overrides_a_confident_acceptance(policy: Policy) -> None:
    outcome, offer, rules = decide_one(policy, applicant(hba1c=10.5), [0.95, 0.04, 0.01])
    assert outcome == "decline" and np.isnan(offer)
    assert [(r["rule"], r["code"], r["value"]) for r in rules] == [("knock_out", "KO01", 10.5)]
    # The bound itself does not knock out ("above 10").
    assert decide_one(policy, applicant(hba1c=10.0), [0.95, 0.04, 0.01])[0] == "accept"


def test_a_referring_knock_out_never_softens_a_decline(policy: Policy) -> None:
    record = applicant(cardiac_history="event_within_5y")
    assert decide_one(policy, record, [0.9, 0.08, 0.02])[0] == "refer"
    assert decide_one(policy, record, [0.02, 0.08, 0.9])[0] == "decline"


def test_doubt_about_the_model_refers_even_its_decline(policy: Policy) -> None:
    outcome, _, rules = decide_one(policy, applicant(age=83), [0.02, 0.08, 0.9])
    assert outcome == "refer"
    expected = {
        "rule": "out_of_range",
        "code": "RF02",
        "text": policy.out_of_range.text,
        "feature": "age",
        "value": 83,
        "range": [18.0, 80.0],
    }
    assert rules == [expected]
    outcome, _, rules = decide_one(policy, applicant(), [0.5, 0.3, 0.2])
    assert outcome == "refer" and rules[0]["rule"] == "confidence"
    assert rules[0]["top_probability"] == 0.5
    # ... but a knock-out's decline stands.
    assert decide_one(policy, applicant(age=83, dui_count_5y=3), [0.5, 0.3, 0.2])[0] == "decline"


def test_the_face_amount_refers_an_acceptance_above_the_offer_or_the_limit(
    policy: Policy,
) -> None:
    assert decide_one(policy, applicant(), [0.9, 0.08, 0.02], requested=500_000)[0] == "accept"
    outcome, offer, rules = decide_one(policy, applicant(), [0.9, 0.08, 0.02], requested=600_000)
    assert outcome == "refer" and offer == 510_000
    assert rules == [
        {
            "rule": "face_amount",
            "code": "RF03",
            "text": policy.above_offer.text,
            "requested": 600_000.0,
            "offer": 510_000.0,
        }
    ]
    outcome, offer, rules = decide_one(
        policy, applicant(), [0.9, 0.08, 0.02], coverage=5e6, requested=2e6
    )
    assert (outcome, offer, rules[0]["code"]) == ("refer", 1_000_000, "RF04")  # capped offer


def test_the_outcome_mix_counts_straight_through_decisions(policy: Policy) -> None:
    columns = {name: np.asarray([v] * 4) for name, v in applicant().items()}
    columns["hba1c"] = np.asarray([5.0, 11.0, 5.0, 5.0])
    probabilities = np.asarray(
        [[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.1, 0.8, 0.1]]
    )
    decided = decide(policy, columns, CLASSES, probabilities, None, None, {})
    assert decided.outcome.tolist() == ["accept", "decline", "refer", "accept"]
    assert decided.standard_acceptance("standard").tolist() == [True, False, False, False]
    mix = straight_through(decided)
    assert mix["outcomes"] == {"accept": 2, "refer": 1, "decline": 1}
    assert mix["straight_through_rate"] == 0.75 and mix["acceptance_rate"] == 0.5


def test_reasons_rank_knock_outs_first_then_contributions_merging_shared_codes(
    policy: Policy,
) -> None:
    attributions = {
        "hba1c": 0.05,
        "weight_kg": 0.04,
        "height_cm": 0.03,
        "systolic_bp": 0.06,
        "tobacco_use": 0.02,
        "alcohol_drinks_per_week": 0.015,
        "diabetes": 0.005,
        "hdl_cholesterol": 0.0,
    }
    values = {
        "hba1c": 10.8,
        "weight_kg": 120.0,
        "height_cm": 170.0,
        "systolic_bp": 160,
        "tobacco_use": "current",
        "alcohol_drinks_per_week": 30,
    }
    knock_out = policy.knock_outs[0]
    given = reasons(policy, [knock_out], attributions, values)
    assert [(r["code"], r["feature"]) for r in given] == [
        ("KO01", "hba1c"),
        ("R01", "weight_kg"),
        ("R03", "systolic_bp"),
        ("R02", "tobacco_use"),
    ]
    assert given[0] == {
        "code": "KO01",
        "feature": "hba1c",
        "text": knock_out.wording.text,
        "value": 10.8,
        "contribution": 0.05,
    }
    assert given[1]["contribution"] == 0.07 and given[1]["related"] == {"height_cm": 170.0}
    assert given[1]["text"] == policy.wording["weight_kg"].text


def _former_reasons(
    policy: Policy,
    knocked_out: list[Any],
    attributions: dict[str, float] | None,
    values: dict[str, Any],
) -> list[Reason]:
    """The ranking as first written: every code's reason built, then sorted and cut."""
    chosen: list[Reason] = []
    cited: set[str] = set()
    for rule in knocked_out:
        if rule.feature in cited:
            continue
        cited.add(rule.feature)
        contribution = None if attributions is None else attributions.get(rule.feature)
        rounded = None if contribution is None else round(float(contribution), 4)
        chosen.append(
            Reason(
                rule.wording.code,
                rule.feature,
                rule.wording.text,
                values.get(rule.feature),
                rounded,
            )
        )
    if attributions is not None:
        by_code: dict[str, tuple[str, float]] = {}
        for feature, contribution in sorted(attributions.items(), key=lambda item: -item[1]):
            wording = policy.wording.get(feature)
            if wording is None or feature in cited or contribution <= 0:
                continue
            leading, total = by_code.get(wording.code, (feature, 0.0))
            by_code[wording.code] = (leading, total + contribution)
        for code, (feature, total) in by_code.items():
            if total >= policy.minimum_contribution:
                related = [f for f in policy.features_by_code[code] if f != feature]
                chosen.append(
                    Reason(
                        code,
                        feature,
                        policy.wording[feature].text,
                        values.get(feature),
                        round(float(total), 4),
                        {f: values.get(f) for f in related} if related else None,
                    )
                )
    head = chosen[: len({r.feature for r in knocked_out})]
    tail = sorted(chosen[len(head) :], key=lambda r: -(r.contribution or 0.0))
    return (head + tail)[: policy.maximum_reasons]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_reasons_rank_as_the_former_ranking_did_whatever_the_ties_and_limits(
    policy: Policy, data: st.DataObject
) -> None:
    features = [*policy.wording, "age", "sex"]  # two that are never reasons
    # A coarse grid of contributions: equal totals and rounding ties are common.
    grid = st.integers(-40, 400).map(lambda k: k * 0.00025)
    attributions = data.draw(
        st.none() | st.dictionaries(st.sampled_from(features), grid, max_size=len(features))
    )
    knocked = data.draw(st.lists(st.sampled_from(policy.knock_outs), max_size=5))
    chosen = dataclasses.replace(
        policy,
        maximum_reasons=data.draw(st.integers(1, 4)),
        minimum_contribution=data.draw(st.sampled_from([0.0, 0.01, 0.02])),
    )
    values = {name: data.draw(st.integers(0, 9)) for name in features}
    assert ranking.reasons(chosen, knocked, attributions, values) == _former_reasons(
        chosen, knocked, attributions, values
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_reasons_ranked_over_a_matrix_are_each_records_own_ranking(
    policy: Policy, data: st.DataObject
) -> None:
    features = ["age", *policy.wording, "sex"]  # columns the policy does not word, too
    rows = data.draw(st.integers(0, 12))
    grid = st.integers(-40, 400).map(lambda k: np.float32(k * 0.00025))
    matrix = np.array(
        [[data.draw(grid) for _ in features] for _ in range(rows)], dtype=np.float32
    ).reshape(rows, len(features))
    chosen = dataclasses.replace(
        policy,
        maximum_reasons=data.draw(st.integers(1, 4)),
        minimum_contribution=data.draw(st.sampled_from([0.0, 0.01, 0.02])),
    )
    values = [{name: data.draw(st.integers(0, 9)) for name in features} for _ in range(rows)]
    codes = ranking.codes_over(chosen, features)
    assert codes is not None
    together = ranking.ranked_many(chosen, codes, matrix, values)
    one_by_one = [
        ranking.reasons(chosen, [], dict(zip(features, row.tolist(), strict=True)), applicant)
        for row, applicant in zip(matrix, values, strict=True)
    ]
    assert together == one_by_one


def test_a_code_of_three_features_is_left_to_the_record_by_record_ranking(
    policy: Policy,
) -> None:
    wording = policy.wording["weight_kg"]
    crowded = dataclasses.replace(
        policy,
        reason_codes=dict(policy.reason_codes) | {"hba1c": wording.code, "age": wording.code},
    )
    assert ranking.codes_over(crowded, ["weight_kg", "height_cm", "hba1c"]) is None
    assert ranking.codes_over(policy, ["weight_kg", "height_cm", "hba1c"]) is not None


def test_reasons_never_cite_an_undirected_feature_or_a_small_contribution(
    policy: Policy,
) -> None:
    given = reasons(policy, [], {"age": 0.5, "diabetes": 0.005, "tobacco_use": 0.2}, {})
    assert [r["feature"] for r in given] == ["tobacco_use"]
    assert reasons(policy, [], {"age": 0.5}, {}) == []
    # A build reason always names height beside weight, though height at its own BMI adds 0.
    (build,) = reasons(
        policy, [], {"weight_kg": 0.05, "height_cm": 0.0}, {"weight_kg": 120.0, "height_cm": 170.0}
    )
    assert (build["feature"], build["contribution"], build["related"]) == (
        "weight_kg",
        0.05,
        {"height_cm": 170.0},
    )
    # Explanations skipped: the knock-outs still give their reasons, without a contribution.
    only = reasons(policy, [policy.knock_outs[1]], None, {"dui_count_5y": 4})
    assert only == [
        {
            "code": "KO02",
            "feature": "dui_count_5y",
            "text": policy.knock_outs[1].wording.text,
            "value": 4,
            "contribution": None,
        }
    ]


def test_one_record_decides_exactly_as_it_does_within_a_batch(policy: Policy) -> None:
    """A record's decision does not depend on the records decided beside it."""
    from training.synthetic import generate

    rng = np.random.default_rng(7)
    size = 600
    columns = {name: np.asarray(values) for name, values in generate(size, 3).features.items()}
    probabilities = rng.dirichlet([1.0, 0.6, 0.4], size=size)
    coverage = rng.uniform(0, 3e6, size)
    requested = np.where(rng.random(size) < 0.5, np.nan, rng.uniform(0, 2.5e6, size))
    ranges = {"age": (20.0, 75.0), "weight_kg": (45.0, 160.0), "hba1c": (4.0, 12.0)}
    batch = decide(policy, columns, CLASSES, probabilities, coverage, requested, ranges)
    assert len(set(batch.outcome.tolist())) == 3  # every outcome occurs
    assert any(len(r) > 1 for r in batch.rules)
    for i in range(size):
        one = decide(
            policy,
            {name: values[i : i + 1] for name, values in columns.items()},
            CLASSES,
            probabilities[i : i + 1],
            coverage[i : i + 1],
            requested[i : i + 1],
            ranges,
        )
        assert one.outcome[0] == batch.outcome[i] and one.risk_class[0] == batch.risk_class[i]
        assert one.offer[0] == batch.offer[i] or (
            np.isnan(one.offer[0]) and np.isnan(batch.offer[i])
        )
        assert one.rules[0] == batch.rules[i]
        assert one.knocked_out[0] == batch.knocked_out[i]


def test_a_code_shared_by_two_small_factors_is_a_reason_when_together_they_count(
    policy: Policy,
) -> None:
    (build,) = reasons(
        policy,
        [],
        {"height_cm": 0.006, "weight_kg": 0.006},
        {"height_cm": 160.0, "weight_kg": 110.0},
    )
    assert build["code"] == "R01" and build["contribution"] == 0.012


def test_a_policy_must_fit_the_classifiers_classes_and_knock_out_only_risk_factors(
    policy: Policy,
) -> None:
    policy.check_against(FEATURES, DIRECTED, CLASSES)
    raw = source()
    raw["outcomes"] = {"standard": "accept", "substandrd": "accept", "decline": "decline"}
    with pytest.raises(ContractError, match="outcomes name"):
        Policy.from_json(raw).check_against(FEATURES, DIRECTED, CLASSES)
    raw = source()
    raw["knock_outs"].append(
        {"code": "KO9", "text": "Too old", "feature": "age", "above": 70, "outcome": "decline"}
    )
    with pytest.raises(ContractError, match="no risk direction"):
        Policy.from_json(raw).check_against(FEATURES, DIRECTED, CLASSES)


def test_both_paths_compare_a_float32_probability_with_the_threshold_alike(
    policy: Policy,
) -> None:
    import dataclasses

    strict = dataclasses.replace(policy, minimum_top_probability=0.7)
    probabilities = np.asarray([[0.7, 0.2, 0.1]] * 2, dtype=np.float32)
    columns = {name: np.asarray([value] * 2) for name, value in applicant().items()}
    both = decide(strict, columns, CLASSES, probabilities, None, None, {})
    one = decide(
        strict, {k: v[:1] for k, v in columns.items()}, CLASSES, probabilities[:1], None, None, {}
    )
    assert one.outcome[0] == both.outcome[0] == both.outcome[1]


def test_publication_numbers_past_an_unfinished_version_directory(tmp_path: Path) -> None:
    stray = tmp_path / "underwriting_policy" / "1"
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("left by an interrupted copy")
    target, policy = publish(DEFAULT_SOURCE, tmp_path)
    assert (target.name, policy.version) == ("2", 2)


def test_an_acceptance_with_nothing_to_offer_is_referred(policy: Policy) -> None:
    outcome, offer, rules = decide_one(policy, applicant(), [0.9, 0.08, 0.02], coverage=9_999.0)
    assert (outcome, offer) == ("refer", 0.0)
    assert rules == [{"rule": "face_amount", **policy.no_offer.to_json(), "offer": 0.0}]
    # Without a coverage model there is no offer to judge: the class decides.
    assert decide_one(policy, applicant(), [0.9, 0.08, 0.02], coverage=None)[0] == "accept"


def test_per_record_lists_read_like_a_list_of_lists() -> None:
    """A batch's fired rules are stored sparsely but read as one list per record."""
    from policy.decide import PerRecord

    fired: PerRecord[str] = PerRecord(4)
    fired.add(1, "a")
    fired.add(1, "b")
    fired.add(3, "c")
    expected = [[], ["a", "b"], [], ["c"]]
    assert list(fired) == expected and len(fired) == 4
    assert [fired[i] for i in range(-4, 4)] == expected + expected
    assert fired[1:] == expected[1:] and fired[::-2] == expected[::-2]
    with pytest.raises(IndexError):
        fired[4]
    with pytest.raises(IndexError):
        fired[-5]


# One of each kind of fired rule, as the policy fires them.
EVERY_KIND_OF_FIRED_RULE: tuple[FiredRule, ...] = (
    KnockOutFired("KO02", "DUI", "dui_count_5y", 3),
    OutOfRangeFired("RF02", "Range", "age", 90, (18.0, 80.0)),
    ConfidenceFired("RF01", "Unclear", 0.41, 0.55),
    AboveLimitFired("RF04", "Limit", 2.5e6, 1e6),
    AboveOfferFired("RF03", "Offer", 9e5, 5e5),
    NoOfferFired("RF05", "None"),
)


def test_a_fired_rule_writes_the_same_json_natively_and_as_a_dict() -> None:
    """The batch scorer lets orjson write a rule's dataclass; REST and the record write its
    dict: one JSON form, in the same key order."""
    import orjson

    for rule in EVERY_KIND_OF_FIRED_RULE:
        assert orjson.dumps(rule) == orjson.dumps(rule_json(rule))
        assert list(rule_json(rule))[:3] == ["rule", "code", "text"]


def test_a_recorded_decision_reads_back_as_the_decision_it_was() -> None:
    """A replayed request answers with the decision on record: its JSON form reads back exactly,
    every kind of fired rule included, and a form that is no rule is refused."""
    import orjson

    from policy.decision import Decision, Reason, rule_from_json

    decision = Decision(
        outcome="refer",
        risk_class="substandard",
        offer=None,
        reasons=(
            Reason("R01", "bmi", "Build", 41.5, 0.12, {"weight_kg": 130}),
            Reason("R06", "cholesterol", "Lipids", 290, None),
        ),
        reasons_complete=False,
        rules=EVERY_KIND_OF_FIRED_RULE,
        policy_version=3,
    )
    recorded = orjson.loads(orjson.dumps(decision.to_json(), option=orjson.OPT_SORT_KEYS))
    assert Decision.from_json(recorded) == decision
    with pytest.raises(ValueError, match="not a fired rule"):
        rule_from_json({"rule": "face_amount", "code": "RF04", "text": "Limit", "requested": 1.0})
