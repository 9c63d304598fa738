"""Seeded synthetic life-insurance applicants whose true class probabilities and coverage are known.

Features are drawn with realistic marginals and correlations; the risk class follows the numerical
rating method (debits per impairment, knock-outs) through an ordered logit with a little label
noise; the maximum coverage follows financial underwriting. Because the class probabilities and the
expected coverage are computed exactly from the published features, the Bayes-optimal log-loss,
accuracy and coverage RMSE of any sample are known. RULES_MARKDOWN states the rules in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.features import CLASS_NAMES, FEATURE_NAMES, FEATURES_BY_NAME
from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    NET_WORTH_FRACTION,
)

Columns = dict[str, np.ndarray]

# Ordered logit on log(multiple / 100). Cutpoints are tuned on 10^6 rows so the class shares come
# out at about 70% standard, 22% substandard, 8% decline once label noise is mixed in.
LOGIT_SLOPE = 10.0
CUTPOINTS = (5.7692, 9.9791)
LABEL_NOISE = 0.03  # chance the label is uniformly random: clerical and judgement noise
KNOCK_OUT_PROBABILITIES = (0.0, 0.005, 0.995)  # before label noise; 0.975 decline after it

CLASS_COVERAGE_FACTORS = (1.0, 0.5, 0.0)  # standard, substandard, decline
COVERAGE_STEP = 10_000.0

# Money is published in whole hundreds of dollars, cholesterol in whole mg/dL, the rest to 0.1.
_DECIMALS = {
    "annual_income": -2,
    "net_worth": -2,
    "existing_coverage": -2,
    "total_cholesterol": 0,
    "hdl_cholesterol": 0,
}


@dataclass(frozen=True)
class SyntheticSample:
    """Applicant features with their sampled labels and the exact label distribution."""

    features: dict[str, np.ndarray]  # FEATURE_NAMES order; int64, float64, bool or str objects
    risk_class: np.ndarray  # int64 index into CLASS_NAMES, drawn from true_probabilities
    max_coverage: np.ndarray  # float64 dollars offered in the drawn class
    true_probabilities: np.ndarray  # float64 [n, 3], exact P(class | features), noise included
    expected_coverage: np.ndarray  # float64, exact E[max_coverage | features]


def generate(rows: int, seed: int) -> SyntheticSample:
    """Draw `rows` applicants reproducibly from `seed`, with labels and their true distribution."""
    rng = np.random.default_rng(seed)
    features = _draw_features(rng, rows)
    probabilities = class_probabilities(features)
    risk_class = _sample_classes(rng, probabilities)
    expected = sum(
        (
            probabilities[:, k] * coverage_for_class(features, np.full(rows, k))
            for k in range(len(CLASS_NAMES))
        ),
        np.zeros(rows),
    )
    return SyntheticSample(
        features=features,
        risk_class=risk_class,
        max_coverage=coverage_for_class(features, risk_class),
        true_probabilities=probabilities,
        expected_coverage=expected,
    )


# --- Drawing the features ------------------------------------------------------------------------


def _draw_features(rng: np.random.Generator, n: int) -> Columns:
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


# --- The risk class: numerical rating ------------------------------------------------------------


def _build_debits(f: Columns) -> np.ndarray:
    """Debit 5 per BMI unit above 30, 15 above 35, 25 above 40, and 8 per unit below 18.5."""
    bmi = _bmi(f)
    return _ramp(bmi, 30, 5) + _ramp(bmi, 35, 10) + _ramp(bmi, 40, 10) + _ramp(-bmi, -18.5, 8)


def _blood_pressure_debits(f: Columns) -> np.ndarray:
    """Debit systolic above 135, diastolic above 85 and treatment, weighted by youth."""
    systolic, diastolic = _number(f, "systolic_bp"), _number(f, "diastolic_bp")
    debits = _ramp(systolic, 135, 2) + _ramp(systolic, 160, 2) + _ramp(diastolic, 85, 2.5)
    return _youth(f) * (debits + 10 * _number(f, "bp_treatment"))


def _cholesterol_debits(f: Columns) -> np.ndarray:
    """Debit 12 per unit of total/HDL ratio above 5, 25 above 7."""
    ratio = _number(f, "total_cholesterol") / _number(f, "hdl_cholesterol")
    return _ramp(ratio, 5, 12) + _ramp(ratio, 7, 13)


def _glucose_debits(f: Columns) -> np.ndarray:
    """Debit HbA1c above 5.7% (steeper above 8%) and diagnosed diabetes."""
    hba1c = _number(f, "hba1c")
    diagnosis = _lookup(f["diabetes"], {"type_1": 75.0})
    diagnosis += _youth(f) * _lookup(f["diabetes"], {"type_2": 40.0})
    return _ramp(hba1c, 5.7, 20) + _ramp(hba1c, 8, 30) + diagnosis


def _family_history_debits(f: Columns) -> np.ndarray:
    """Debit 15 per relative; early family history matters before 60 and fades out by 70."""
    fading = np.clip((70 - _number(f, "age")) / 10, 0, 1)
    return 15 * _number(f, "family_history_count") * fading


def _medical_history_debits(f: Columns) -> np.ndarray:
    """Debit past coronary events and cancers in remission (active cancer is a knock-out)."""
    cardiac = _lookup(f["cardiac_history"], {"event_over_5y": 100.0, "event_within_5y": 175.0})
    cancer = _lookup(f["cancer_history"], {"remission_over_5y": 25.0, "remission_under_5y": 100.0})
    return cardiac + cancer


def _tobacco_debits(f: Columns) -> np.ndarray:
    """Debit current smokers 75, quitters of 1-5 years 35, of over 5 years 10."""
    return _lookup(f["tobacco_use"], {"former_over_5y": 10.0, "former_1_5y": 35.0, "current": 75.0})


def _alcohol_debits(f: Columns) -> np.ndarray:
    """Debit 3 per weekly drink above 14, 8 above 28."""
    drinks = _number(f, "alcohol_drinks_per_week")
    return _ramp(drinks, 14, 3) + _ramp(drinks, 28, 5)


def _driving_debits(f: Columns) -> np.ndarray:
    """Debit 50 for one DUI, 150 for two (three is a knock-out), 12 per violation above 2."""
    duis = _number(f, "dui_count_5y")
    return (
        _ramp(duis, 0, 50) + _ramp(duis, 1, 50) + _ramp(_number(f, "moving_violations_3y"), 2, 12)
    )


def _hazard_debits(f: Columns) -> np.ndarray:
    """Debit moderate (15) and high (60) hazard occupations and hazardous avocations (50)."""
    occupation = _lookup(f["occupation_hazard"], {"moderate": 15.0, "high": 60.0})
    return occupation + 50 * _number(f, "hazardous_avocation")


DEBIT_RULES = {
    "build": _build_debits,
    "blood_pressure": _blood_pressure_debits,
    "cholesterol": _cholesterol_debits,
    "glucose": _glucose_debits,
    "family_history": _family_history_debits,
    "medical_history": _medical_history_debits,
    "tobacco": _tobacco_debits,
    "alcohol": _alcohol_debits,
    "driving": _driving_debits,
    "hazards": _hazard_debits,
}


def rating_debits(features: Columns) -> dict[str, np.ndarray]:
    """Return each impairment's debits (percentage points of standard mortality) per applicant."""
    return {name: rule(features) for name, rule in DEBIT_RULES.items()}


def mortality_multiple(features: Columns) -> np.ndarray:
    """Return the rated mortality multiple in percent of standard: 100 plus all debits."""
    return 100.0 + sum(rating_debits(features).values(), np.zeros(len(features["age"])))


def knock_outs(features: Columns) -> np.ndarray:
    """Return which applicants an underwriter declines outright, whatever their other debits."""
    f = features
    recent_cardiac = np.asarray(f["cardiac_history"]) == "event_within_5y"
    major = (
        (np.asarray(f["tobacco_use"]) == "current")
        | (np.asarray(f["diabetes"]) != "none")
        | (_bmi(f) >= 35)
        | (_number(f, "systolic_bp") >= 160)
    )
    return (
        (np.asarray(f["cancer_history"]) == "active")
        | (recent_cardiac & major)
        | (_number(f, "hba1c") > 10)
        | (_number(f, "dui_count_5y") >= 3)
    )


def class_probabilities(features: Columns) -> np.ndarray:
    """Return the exact P(class | features) [n, 3], label noise included."""
    latent = LOGIT_SLOPE * np.log(mortality_multiple(features) / 100.0)
    at_most = [_sigmoid(cut - latent) for cut in CUTPOINTS]
    rated = np.stack([at_most[0], at_most[1] - at_most[0], 1.0 - at_most[1]], axis=1)
    rated = np.where(knock_outs(features)[:, None], KNOCK_OUT_PROBABILITIES, rated)
    return (1.0 - LABEL_NOISE) * rated + LABEL_NOISE / len(CLASS_NAMES)


def _sample_classes(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one class index per row from its probabilities."""
    u = rng.random(len(probabilities))[:, None]
    return (u >= np.cumsum(probabilities[:, :-1], axis=1)).sum(axis=1).astype(np.int64)


# --- Maximum coverage: financial underwriting ----------------------------------------------------


def coverage_for_class(features: Columns, risk_class: np.ndarray) -> np.ndarray:
    """Return the maximum coverage in dollars each applicant gets in the given risk class."""
    age = _number(features, "age")
    multiple = np.select(
        [age < limit for limit, _ in INCOME_MULTIPLES],
        [m for _, m in INCOME_MULTIPLES],
        INCOME_MULTIPLE_65_PLUS,
    )
    by_income = multiple * _number(features, "annual_income")
    by_wealth = NET_WORTH_FRACTION * np.maximum(_number(features, "net_worth"), 0.0)
    room = np.maximum(np.maximum(by_income, by_wealth) - _number(features, "existing_coverage"), 0)
    offered = room * np.asarray(CLASS_COVERAGE_FACTORS)[np.asarray(risk_class)]
    return np.floor(np.minimum(offered, COVERAGE_CAP) / COVERAGE_STEP) * COVERAGE_STEP


# --- Helpers -------------------------------------------------------------------------------------


def _number(features: Columns, name: str) -> np.ndarray:
    """Return a numeric or boolean column as float64."""
    return np.asarray(features[name], dtype=np.float64)


def _youth(features: Columns) -> np.ndarray:
    """Return the age weight: 1.5 at 20, 1 at 50, 0.7 from 68 (starting young costs more)."""
    return np.clip(1 + (50 - _number(features, "age")) / 60, 0.7, 1.5)


def _bmi(features: Columns) -> np.ndarray:
    """Return body-mass index from the published height and weight."""
    return _number(features, "weight_kg") / (_number(features, "height_cm") / 100.0) ** 2


def _ramp(x: np.ndarray, start: float, slope: float) -> np.ndarray:
    """Return `slope` per unit of x above `start`: a continuous debit a network can learn."""
    return slope * np.maximum(x - start, 0.0)


def _lookup(column: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """Map category strings to numbers; categories absent from the table map to 0."""
    column = np.asarray(column)
    out = np.zeros(column.shape, dtype=np.float64)
    for category, value in table.items():
        out[column == category] = value
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic function of x."""
    return 1.0 / (1.0 + np.exp(-x))


def _income_multiple_rows() -> str:
    """Return the income-multiple table rows of RULES_MARKDOWN."""
    rows, lower = [], 18
    for below, multiple in INCOME_MULTIPLES:
        rows.append(f"| {lower}-{below - 1} | {multiple:g}x |")
        lower = below
    rows.append(f"| {lower}+ | {INCOME_MULTIPLE_65_PLUS:g}x |")
    return "\n".join(rows)


_NOISE_SHARE = f"{LABEL_NOISE:.0%}"
_KNOCK_OUT_DECLINE = (1 - LABEL_NOISE) * KNOCK_OUT_PROBABILITIES[2] + LABEL_NOISE / 3
_MIDPOINTS = [100 * np.exp(cut / LOGIT_SLOPE) for cut in CUTPOINTS]  # multiples at the cutpoints

RULES_MARKDOWN = f"""## How the synthetic applicants are generated

The training data are synthetic: no real person is in them. Each applicant is drawn at random
(seeded, so a data set is reproducible) with realistic shares and correlations, then labelled by
the rules below. Because the rules are known exactly, so is the best any model could do.

### Applicants
- **Age** 18-85, most between 25 and 60 (median about 46); **sex** half female, half male.
- **Height and weight**: men about 13 cm taller; BMI is log-normal around 24 at 18, rising about
  0.9 per decade to 65, a little higher for men, so about a quarter have BMI above 30.
- **Tobacco**: about 13% current smokers (more among the young), 15% former smokers (more among
  the old; two thirds of them quit over 5 years ago).
- **Blood pressure** rises with age and BMI, higher for men. Treatment is more likely with high
  pressure and age (about 12% treated); treated pressure is measured about 12/6 mmHg lower.
- **Cholesterol**: total rises with age and BMI; HDL is lower for men, higher BMI, smokers and
  recent quitters, a little higher with moderate drinking.
- **Diabetes**: type 2 about 8% (more with age and BMI), type 1 about 0.5%. HbA1c is about 5.3%
  without diabetes, a median of about 7.1% (type 2) or 7.8% (type 1) with it.
- **Medical history**: coronary events (about 1.5%) grow with age, male sex, smoking, diabetes and
  blood pressure; cancer history (about 1.5%) with age and smoking. Family history is 0-6
  relatives, mostly 0.
- **Alcohol**: 30% never drink; drinkers have a median of 3 (women) or 4.5 (men) drinks a week with
  a long tail. **DUIs** (about 1.6%) are likelier for young men and heavy drinkers; **moving
  violations** for young men and drivers with a DUI.
- **Hazards**: 75% low, 18% moderate, 7% high hazard occupations (men more often in the riskier);
  about 7% have a hazardous avocation.
- **Income** (earned): log-normal, peaking around 48, median about $60,000 with a long tail; about
  3% earn nothing before 60, and most stop earning between 60 and 75. **Net worth** grows with
  age and income; about 4% (mostly the young) are in debt. **Existing coverage** is 0 for about
  half, otherwise 1-10 times income.

### Risk class: the numerical rating method
Every applicant starts at a mortality of 100% of standard; each impairment adds debits
(percentage points). Continuous measurements are debited on straight-line slopes, not steps.
Debits marked (a) are weighted by age, because an impairment that starts young costs more life:
x1.5 at 20, x1 at 50, x0.7 from 68.

| impairment | debits |
|---|---|
| build (BMI) | 5 per unit above 30, 15 above 35, 25 above 40; 8 per unit below 18.5 |
| blood pressure (a) | systolic 2/mmHg above 135, 4 above 160; diastolic 2.5 above 85; treated 10 |
| cholesterol | 12 per unit of total/HDL ratio above 5, 25 per unit above 7 |
| HbA1c, diabetes | 20 per point of HbA1c above 5.7%, 50 above 8%; type 1: 75; type 2 (a): 40 |
| family history | 15 per relative under age 60, fading to nothing by 70 |
| cardiac history | event over 5 years ago 100, within 5 years 175 |
| cancer history | remission over 5 years 25, under 5 years 100 |
| tobacco | current 75, quit 1-5 years 35, quit over 5 years 10 |
| alcohol | 3 per weekly drink above 14, 8 per drink above 28 |
| driving | one DUI 50, two DUIs 150; 12 per moving violation above 2 |
| occupation / avocation | moderate hazard 15, high hazard 60; hazardous avocation 50 |

**Knock-outs** (declined whatever the debits): active cancer; a coronary event within 5 years
together with current smoking, diabetes, BMI 35 or more, or systolic 160 or more; HbA1c above
10%; three or more DUIs. A knock-out is declined with probability {_KNOCK_OUT_DECLINE:.3f}.

Otherwise the class follows an ordered logit on x = {LOGIT_SLOPE:g} ln(multiple / 100):
P(standard) = sigmoid({CUTPOINTS[0]:g} - x) and P(standard or substandard) =
sigmoid({CUTPOINTS[1]:g} - x). An applicant at {_MIDPOINTS[0]:.0f}% is as likely standard as
not; at {_MIDPOINTS[1]:.0f}% as likely declined as not. Finally {_NOISE_SHARE} of labels are
replaced by a class drawn uniformly (underwriters' judgement and clerical noise). Overall about
70% are standard, 22% substandard and 8% declined.

### Maximum coverage: financial underwriting

| age | multiple of income |
|---|---|
{_income_multiple_rows()}

1. Capacity is the larger of the income multiple for the age (table) times annual income, and
   {NET_WORTH_FRACTION:.0%} of (positive) net worth.
2. Existing coverage is subtracted; the result is never below $0.
3. Standard gets it all, substandard {CLASS_COVERAGE_FACTORS[1]:.0%}, decline $0.
4. The amount is capped at ${COVERAGE_CAP:,.0f}, then rounded down to ${COVERAGE_STEP:,.0f}s.

The expected coverage of an applicant weighs each class's amount by its true probability.
"""
