"""The rating rules are declared once: the same objects compute the debits and write the report."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from training.synthetic import DEBITS, KNOCK_OUTS, RULES_MARKDOWN, generate, rules_markdown
from training.synthetic.rating import knock_outs, mortality_multiple, rating_debits
from training.synthetic.rules import (
    YOUTH,
    AtLeast,
    Flag,
    Impairment,
    Is,
    KnockOut,
    Measure,
    Slopes,
    Table,
)

X = Measure("x", "unit", lambda f: np.asarray(f["x"], dtype=np.float64))


def test_slopes_compute_what_they_say() -> None:
    rule = Slopes(X, ((10, 2), (20, 5)))
    assert rule.describe() == "x 2 per unit above 10, 5 above 20"
    debits = rule.debits({"x": np.array([5.0, 10, 15, 20, 25])})
    np.testing.assert_allclose(debits, [0, 0, 10, 20, 45])  # 2 a unit to 20, then 5 a unit
    below = Slopes(X, ((18.5, 8),), below=True)
    assert below.describe() == "x 8 per unit below 18.5"
    np.testing.assert_allclose(below.debits({"x": np.array([17.5, 18.5, 30])}), [8, 0, 0])


def test_tables_flags_and_weights_compute_what_they_say() -> None:
    columns = {
        "c": np.array(["a", "b", "z"], dtype=object),
        "f": np.array([True, False, True]),
        "age": np.array([20, 50, 80]),
    }
    table = Table("c", "", (("a", 10), ("b", 35)))
    assert table.describe() == "a 10, b 35"
    np.testing.assert_allclose(table.debits(columns), [10, 35, 0])
    flag = Flag("f", "flagged", 50, weight=YOUTH)
    assert flag.describe() == "flagged 50"
    np.testing.assert_allclose(flag.debits(columns), [75, 0, 35])  # x1.5 at 20, x0.7 at 80


def test_knock_outs_hold_when_they_say() -> None:
    rule = KnockOut((Is("c", "colour", "red"),), (AtLeast(X, 3), AtLeast(X, -1, strict=True)))
    assert rule.describe() == "colour is red together with x 3 or more or x above -1"
    columns = {"c": np.array(["red", "red", "blue"], dtype=object), "x": np.array([-2, 0, 5])}
    assert rule.holds(columns).tolist() == [False, True, False]


def test_every_declared_rule_appears_in_the_report() -> None:
    for impairment in DEBITS:
        assert f"| {impairment.label} | {impairment.describe()} |" in RULES_MARKDOWN
    for rule in KNOCK_OUTS:
        assert rule.describe() in RULES_MARKDOWN.replace("\n", " ")


def _with_tobacco_debits(current: float) -> tuple[Impairment, ...]:
    """The rating table with a different debit for current smokers."""
    table = []
    for impairment in DEBITS:
        if impairment.name == "tobacco":
            (rule,) = impairment.rules
            assert isinstance(rule, Table)
            rates = tuple((c, current if c == "current" else d) for c, d in rule.debits_by_category)
            impairment = dataclasses.replace(
                impairment, rules=(dataclasses.replace(rule, debits_by_category=rates),)
            )
        table.append(impairment)
    return tuple(table)


def test_changing_a_rule_changes_both_the_report_and_the_debits() -> None:
    changed = _with_tobacco_debits(90)
    text = rules_markdown(changed)
    assert text != RULES_MARKDOWN
    assert "current 90" in text and "current 75" in RULES_MARKDOWN and "current 75" not in text
    features = generate(2_000, seed=5).features
    smokers = np.asarray(features["tobacco_use"]) == "current"
    assert smokers.any()
    difference = mortality_multiple(features, changed) - mortality_multiple(features)
    np.testing.assert_allclose(difference, np.where(smokers, 15.0, 0.0), atol=1e-9)


def test_removing_a_knock_out_changes_both_the_report_and_the_decisions() -> None:
    kept = KNOCK_OUTS[1:]  # no longer declines active cancer outright
    assert "cancer history is active" not in rules_markdown(knock_outs=kept)
    features = generate(50_000, seed=6).features
    active = np.asarray(features["cancer_history"]) == "active"
    assert active.any() and knock_outs(features)[active].all()
    assert not knock_outs(features, kept)[active].all()


IMPAIRED = {
    "age": 50,
    "sex": "male",
    "height_cm": 180.0,
    "weight_kg": 113.4,
    "tobacco_use": "former_1_5y",
    "systolic_bp": 145,
    "diastolic_bp": 90,
    "bp_treatment": True,
    "total_cholesterol": 240.0,
    "hdl_cholesterol": 40.0,
    "hba1c": 6.7,
    "diabetes": "type_2",
    "family_history_count": 2,
    "cardiac_history": "event_over_5y",
    "cancer_history": "remission_over_5y",
    "alcohol_drinks_per_week": 20,
    "dui_count_5y": 2,
    "moving_violations_3y": 4,
    "occupation_hazard": "moderate",
    "hazardous_avocation": True,
    "annual_income": 90_000.0,
    "net_worth": 100_000.0,
    "existing_coverage": 0.0,
}
# Worked by hand from the rules as the report states them (BMI 35.0, ratio 6, HbA1c 6.7).
AT_50 = {
    "build": 25.0,
    "blood_pressure": 42.5,
    "cholesterol": 12.0,
    "glucose": 60.0,
    "family_history": 30.0,
    "cardiac_history": 100.0,
    "cancer_history": 25.0,
    "tobacco": 35.0,
    "alcohol": 18.0,
    "driving": 174.0,
    "hazards": 65.0,
}
# At 65 the age weights move: blood pressure and type 2 diabetes x0.75, family history x0.5.
AT_65 = AT_50 | {"blood_pressure": 31.875, "glucose": 50.0, "family_history": 15.0}


@pytest.mark.parametrize(("age", "expected"), [(50, AT_50), (65, AT_65)])
def test_each_impairment_debits_what_the_report_says(age: int, expected: dict[str, float]) -> None:
    columns = {name: np.asarray([value]) for name, value in (IMPAIRED | {"age": age}).items()}
    debits = {name: float(values[0]) for name, values in rating_debits(columns).items()}
    assert debits == pytest.approx(expected)
    assert mortality_multiple(columns)[0] == pytest.approx(100 + sum(expected.values()))
