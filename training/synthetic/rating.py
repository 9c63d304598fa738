"""The risk class: the numerical rating method, as one declared table of rules.

Every applicant starts at 100% of standard mortality; each impairment adds debits (percentage
points); knock-outs decline whatever the debits. The multiple becomes class probabilities through
an ordered logit with a little label noise. The tables below both compute the debits and write
the rules section of every report (training.synthetic.document).
"""

from __future__ import annotations

import numpy as np

from training.features import CLASS_NAMES
from training.synthetic.rules import (
    FADING_FROM_60,
    YOUTH,
    AtLeast,
    Columns,
    Flag,
    Impairment,
    Is,
    KnockOut,
    Measure,
    Slopes,
    Table,
    bmi,
    number,
)

# Ordered logit on log(multiple / 100). Cutpoints are tuned on 10^6 rows so the class shares come
# out at about 70% standard, 22% substandard, 8% decline once label noise is mixed in.
LOGIT_SLOPE = 10.0
CUTPOINTS = (5.7692, 9.9791)
LABEL_NOISE = 0.03  # chance the label is uniformly random: clerical and judgement noise
KNOCK_OUT_PROBABILITIES = (0.0, 0.005, 0.995)  # before label noise; 0.975 decline after it

BMI = Measure("BMI", "unit", bmi, reads=("height_cm", "weight_kg"))
SYSTOLIC = Measure.column("systolic_bp", "systolic", "mmHg")
DIASTOLIC = Measure.column("diastolic_bp", "diastolic", "mmHg")
CHOLESTEROL_RATIO = Measure(
    "total/HDL ratio",
    "unit of ratio",
    lambda f: number(f, "total_cholesterol") / number(f, "hdl_cholesterol"),
    reads=("total_cholesterol", "hdl_cholesterol"),
)
HBA1C = Measure.column("hba1c", "HbA1c", "point", suffix="%")
RELATIVES = Measure.column("family_history_count", "family history", "relative")
DRINKS = Measure.column("alcohol_drinks_per_week", "alcohol", "weekly drink")
DUIS = Measure.column("dui_count_5y", "DUIs", "conviction")
VIOLATIONS = Measure.column("moving_violations_3y", "moving violations", "violation")

DEBITS: tuple[Impairment, ...] = (
    Impairment(
        "build",
        "build (BMI)",
        (Slopes(BMI, ((30, 5), (35, 15), (40, 25))), Slopes(BMI, ((18.5, 8),), below=True)),
    ),
    Impairment(
        "blood_pressure",
        "blood pressure",
        (
            Slopes(SYSTOLIC, ((135, 2), (160, 4)), weight=YOUTH),
            Slopes(DIASTOLIC, ((85, 2.5),), weight=YOUTH),
            Flag("bp_treatment", "treated", 10, weight=YOUTH),
        ),
    ),
    Impairment("cholesterol", "cholesterol", (Slopes(CHOLESTEROL_RATIO, ((5, 12), (7, 25))),)),
    Impairment(
        "glucose",
        "HbA1c, diabetes",
        (
            Slopes(HBA1C, ((5.7, 20), (8, 50))),
            Table("diabetes", "diabetes", (("type_1", 75),)),
            Table("diabetes", "diabetes", (("type_2", 40),), weight=YOUTH),
        ),
    ),
    Impairment(
        "family_history",
        "family history",
        (Slopes(RELATIVES, ((0, 15),), weight=FADING_FROM_60),),
    ),
    Impairment(
        "cardiac_history",
        "cardiac history",
        (Table("cardiac_history", "", (("event_over_5y", 100), ("event_within_5y", 175))),),
    ),
    Impairment(
        "cancer_history",
        "cancer history",
        (
            Table(
                "cancer_history",
                "",
                (("remission_over_5y", 25), ("remission_under_5y", 100)),
            ),
        ),
    ),
    Impairment(
        "tobacco",
        "tobacco",
        (
            Table(
                "tobacco_use",
                "",
                (("former_over_5y", 10), ("former_1_5y", 35), ("current", 75)),
            ),
        ),
    ),
    Impairment("alcohol", "alcohol", (Slopes(DRINKS, ((14, 3), (28, 8))),)),
    Impairment(
        "driving",
        "driving",
        (Slopes(DUIS, ((0, 50), (1, 100))), Slopes(VIOLATIONS, ((2, 12),))),
    ),
    Impairment(
        "hazards",
        "occupation / avocation",
        (
            Table("occupation_hazard", "occupation", (("moderate", 15), ("high", 60))),
            Flag("hazardous_avocation", "hazardous avocation", 50),
        ),
    ),
)

KNOCK_OUTS: tuple[KnockOut, ...] = (
    KnockOut((Is("cancer_history", "cancer history", "active"),)),
    KnockOut(
        (Is("cardiac_history", "cardiac history", "event_within_5y"),),
        (
            Is("tobacco_use", "tobacco use", "current"),
            Is("diabetes", "diabetes", "none", negate=True),
            AtLeast(BMI, 35),
            AtLeast(SYSTOLIC, 160),
        ),
    ),
    KnockOut((AtLeast(HBA1C, 10, strict=True),)),
    KnockOut((AtLeast(DUIS, 3),)),
)


def rating_debits(
    features: Columns, table: tuple[Impairment, ...] = DEBITS
) -> dict[str, np.ndarray]:
    """Return each impairment's debits (percentage points of standard mortality) per applicant."""
    return {impairment.name: impairment.debits(features) for impairment in table}


def mortality_multiple(features: Columns, table: tuple[Impairment, ...] = DEBITS) -> np.ndarray:
    """Return the rated mortality multiple in percent of standard: 100 plus all debits."""
    n = len(features["age"])
    return 100.0 + sum(rating_debits(features, table).values(), np.zeros(n))


def knock_outs(features: Columns, rules: tuple[KnockOut, ...] = KNOCK_OUTS) -> np.ndarray:
    """Return which applicants an underwriter declines outright, whatever their other debits."""
    return np.logical_or.reduce([rule.holds(features) for rule in rules])


def debits_with_knock_outs(
    features: Columns, table: tuple[Impairment, ...] = DEBITS
) -> dict[str, np.ndarray]:
    """Each impairment's debits, infinite where a knock-out about its columns holds.

    What an applicant's reasons are judged against: a knock-out outranks every debit.
    """
    debits = rating_debits(features, table)
    for rule in KNOCK_OUTS:
        holds = rule.holds(features)
        for impairment in table:
            if impairment.reads() & rule.reads():
                debits[impairment.name] = np.where(holds, np.inf, debits[impairment.name])
    return debits


def class_probabilities(features: Columns) -> np.ndarray:
    """Return the exact P(class | features) [n, 3], label noise included."""
    latent = LOGIT_SLOPE * np.log(mortality_multiple(features) / 100.0)
    at_most = [_sigmoid(cut - latent) for cut in CUTPOINTS]
    rated = np.stack([at_most[0], at_most[1] - at_most[0], 1.0 - at_most[1]], axis=1)
    rated = np.where(knock_outs(features)[:, None], KNOCK_OUT_PROBABILITIES, rated)
    return (1.0 - LABEL_NOISE) * rated + LABEL_NOISE / len(CLASS_NAMES)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
