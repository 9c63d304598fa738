"""The applicants: every declared column drawn with realistic marginals and correlations.

Seeded draws, in dependency order (age and sex first, then what depends on them), each clipped
to its declared range and rounded as published. The rules that label them are elsewhere
(rating.py, coverage.py).
"""

from __future__ import annotations

import numpy as np

from training.features import FEATURE_NAMES, FEATURES_BY_NAME

Columns = dict[str, np.ndarray]

# Money is published in whole hundreds of dollars, cholesterol in whole mg/dL, the rest to 0.1.
_DECIMALS = {
    "annual_income": -2,
    "net_worth": -2,
    "existing_coverage": -2,
    "total_cholesterol": 0,
    "hdl_cholesterol": 0,
}


def draw_features(rng: np.random.Generator, n: int) -> Columns:
    """Draw every declared column, in declaration order, within its declared range and type."""
    raw: Columns = {}
    for step in (_demographics, _lifestyle, _vitals, _medical_history, _conduct, _finances):
        raw |= step(rng, raw, n)
    return {name: _conform(name, raw[name]) for name in FEATURE_NAMES}


def _demographics(rng: np.random.Generator, raw: Columns, n: int) -> Columns:
    """Draw age, sex, height and weight; BMI rises with age, men are taller and heavier."""
    # A beta bump over 18-85 puts most applicants between 25 and 60, as among people who apply.
    age = 18.0 + np.floor(68.0 * rng.beta(2.2, 3.0, n))
    male = rng.random(n) < 0.5
    height = np.where(male, 176.5, 163.0) + rng.normal(0.0, 1.0, n) * np.where(male, 7.0, 6.5)
    height -= 0.06 * np.maximum(age - 50.0, 0.0)  # loss of stature in later life
    median_bmi = 24.0 + 0.09 * (np.minimum(age, 65.0) - 18.0) + 0.6 * male
    bmi = median_bmi * np.exp(rng.normal(0.0, 0.17, n))  # log-normal: a long obese tail
    sex = np.where(male, "male", "female").astype(object)
    return {
        "age": age,
        "sex": sex,
        "height_cm": height,
        "weight_kg": bmi * (height / 100.0) ** 2,
        "_male": male,
        "_bmi": bmi,
    }


def _lifestyle(rng: np.random.Generator, raw: Columns, n: int) -> Columns:
    """Draw tobacco use (younger people smoke more, older ones have quit more) and alcohol."""
    age_share = (raw["age"] - 18.0) / 67.0
    current = 0.13 * (1.25 - 0.5 * age_share)
    former = 0.15 * (0.6 + 0.8 * age_share)
    never = 1.0 - current - former
    tobacco = _choose(rng, "tobacco_use", np.stack([never, former * 2 / 3, former / 3, current], 1))
    drinker = rng.random(n) < 0.7
    median_drinks = np.where(raw["_male"], 4.5, 3.0)
    drinks = np.where(drinker, median_drinks * np.exp(rng.normal(0.0, 0.9, n)), 0.0)
    return {"tobacco_use": tobacco, "alcohol_drinks_per_week": drinks}


def _vitals(rng: np.random.Generator, raw: Columns, n: int) -> Columns:
    """Draw blood pressure and its treatment, lipids, diabetes and HbA1c."""
    age, bmi, male = raw["age"], raw["_bmi"], raw["_male"]
    untreated_sys = 110 + 0.45 * (age - 18) + 0.7 * (bmi - 25) + 5 * male + rng.normal(0, 12, n)
    untreated_dia = 0.4 * untreated_sys + 25 + 0.3 * (bmi - 25) + rng.normal(0, 7, n)
    treated = rng.random(n) < _sigmoid(-1.5 + 0.06 * (untreated_sys - 140) + 0.04 * (age - 50))
    # Treatment brings the measured pressure down, which is why treatment itself carries a debit.
    systolic = untreated_sys - 12.0 * treated
    diastolic = np.minimum(untreated_dia - 6.0 * treated, systolic - 15.0)
    smoker = raw["tobacco_use"] == "current"
    quit_recently = raw["tobacco_use"] == "former_1_5y"
    hdl = np.where(male, 48.0, 59.0) - 0.8 * (bmi - 25) - 7 * smoker - 3 * quit_recently
    hdl += 0.4 * np.minimum(raw["alcohol_drinks_per_week"], 14.0) + rng.normal(0, 9, n)
    total = 180 + 0.7 * (np.minimum(age, 65) - 18) + 1.2 * (bmi - 25) + rng.normal(0, 33, n)
    type_2 = _sigmoid(-2.7 + 0.045 * (age - 50) + 0.13 * (bmi - 27))
    diabetes = _choose(
        rng, "diabetes", np.stack([1 - 0.005 - type_2, np.full(n, 0.005), type_2], 1)
    )
    return {
        "systolic_bp": systolic,
        "diastolic_bp": diastolic,
        "bp_treatment": treated,
        "total_cholesterol": total,
        "hdl_cholesterol": hdl,
        "diabetes": diabetes,
        "hba1c": _hba1c(rng, age, bmi, diabetes),
    }


def _hba1c(
    rng: np.random.Generator, age: np.ndarray, bmi: np.ndarray, diabetes: np.ndarray
) -> np.ndarray:
    """Draw HbA1c: near 5.3% without diabetes, a right-skewed 7-8% median with it."""
    healthy = 5.2 + 0.006 * (age - 40) + 0.03 * (bmi - 25) + rng.normal(0.0, 0.3, len(age))
    type_2 = 5.6 + 1.5 * np.exp(rng.normal(0.0, 0.45, len(age)))
    type_1 = 5.8 + 2.0 * np.exp(rng.normal(0.0, 0.4, len(age)))
    return np.select([diabetes == "type_2", diabetes == "type_1"], [type_2, type_1], healthy)


def _medical_history(rng: np.random.Generator, raw: Columns, n: int) -> Columns:
    """Draw family history, cardiac and cancer history; events grow with age and risk factors."""
    age, smoker = raw["age"], raw["tobacco_use"] == "current"
    diabetic = raw["diabetes"] != "none"
    cardiac_logit = -5.5 + 0.075 * (age - 45) + 0.7 * raw["_male"] + 0.8 * smoker + 0.8 * diabetic
    cardiac = _sigmoid(cardiac_logit + 0.02 * (raw["systolic_bp"] - 130))
    cancer = _sigmoid(-4.6 + 0.06 * (age - 45) + 0.5 * smoker)
    return {
        "family_history_count": rng.poisson(0.3, n).astype(np.float64),
        "cardiac_history": _choose(
            rng, "cardiac_history", np.stack([1 - cardiac, 0.6 * cardiac, 0.4 * cardiac], 1)
        ),
        "cancer_history": _choose(
            rng,
            "cancer_history",
            np.stack([1 - cancer, 0.5 * cancer, 0.35 * cancer, 0.15 * cancer], 1),
        ),
    }


def _conduct(rng: np.random.Generator, raw: Columns, n: int) -> Columns:
    """Draw DUIs and violations (young men, heavy drinkers), occupation and avocations."""
    age, male, drinks = raw["age"], raw["_male"], raw["alcohol_drinks_per_week"]
    any_dui = rng.random(n) < _sigmoid(-4.2 + 0.04 * (drinks - 7) + 0.8 * male - 0.03 * (age - 30))
    duis = any_dui * (1 + rng.poisson(0.35, n))
    violation_rate = 0.3 * np.exp(0.5 * male - 0.03 * (age - 35) + 0.6 * any_dui)
    hazard_shares = np.where(male[:, None], [0.68, 0.22, 0.10], [0.82, 0.14, 0.04])
    avocation = _sigmoid(-2.6 + 0.4 * male - 0.03 * (age - 35))
    return {
        "dui_count_5y": duis.astype(np.float64),
        "moving_violations_3y": rng.poisson(violation_rate).astype(np.float64),
        "occupation_hazard": _choose(rng, "occupation_hazard", hazard_shares),
        "hazardous_avocation": rng.random(n) < avocation,
    }


def _finances(rng: np.random.Generator, raw: Columns, n: int) -> Columns:
    """Draw income (log-normal, peaking mid-career), net worth and existing coverage."""
    age, male = raw["age"], raw["_male"]
    log_income = np.log(50_000) + 0.35 - 0.0009 * (age - 48) ** 2 + 0.15 * male
    earning = rng.random(n) >= 0.03 + 0.6 * np.clip((age - 60) / 15, 0, 1)  # retirement
    income = np.where(earning, np.exp(log_income + rng.normal(0.0, 0.75, n)), 0.0)
    income_rank = np.log(np.maximum(income, 20_000) / 60_000)
    wealth = np.exp(np.log(25_000) + 0.055 * (age - 18) + 0.8 * income_rank + rng.normal(0, 1, n))
    in_debt = rng.random(n) < 0.02 + 0.12 * np.clip((45 - age) / 27, 0, 1)  # mostly the young
    net_worth = np.where(in_debt, -15_000 * np.exp(rng.normal(0, 0.9, n)), wealth)
    insured = rng.random(n) < _sigmoid(-0.5 + 0.03 * (age - 35) + 0.5 * income_rank)
    policy = rng.integers(1, 11, n) * np.maximum(income, 30_000)
    return {
        "annual_income": income,
        "net_worth": net_worth,
        "existing_coverage": np.where(insured, policy, 0.0),
    }


def _choose(rng: np.random.Generator, name: str, probabilities: np.ndarray) -> np.ndarray:
    """Draw one declared category of `name` per row from row-wise probabilities [n, k]."""
    categories = np.array(FEATURES_BY_NAME[name].categories, dtype=object)
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return categories[np.minimum((u >= cumulative).sum(axis=1), len(categories) - 1)]


def _conform(name: str, values: np.ndarray) -> np.ndarray:
    """Clip to the declared range and give the declared dtype (categories pass through)."""
    feature = FEATURES_BY_NAME[name]
    if feature.type == "category":
        return values
    if feature.type == "boolean":
        return values.astype(bool)
    clipped = np.clip(values, feature.minimum, feature.maximum)
    if feature.type == "integer":
        return np.rint(clipped).astype(np.int64)
    # The declared bounds are multiples of the rounding step, so rounding cannot leave them.
    return np.round(clipped, _DECIMALS.get(name, 1)).astype(np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
