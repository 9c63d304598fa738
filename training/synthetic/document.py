"""The rules section of every synthetic-data report, written from the rule tables themselves.

The applicants' marginals are described in words (population.py draws them); the rating table,
the knock-outs, the ordered logit and the coverage rules are rendered from the very objects that
compute the labels, so the report cannot say one thing while the generator does another.
"""

from __future__ import annotations

import numpy as np

from training.features import CLASS_NAMES
from training.guidelines import (
    COVERAGE_CAP,
    INCOME_MULTIPLE_65_PLUS,
    INCOME_MULTIPLES,
    NET_WORTH_FRACTION,
)
from training.synthetic.coverage import CLASS_COVERAGE_FACTORS, COVERAGE_STEP
from training.synthetic.rating import (
    CUTPOINTS,
    DEBITS,
    KNOCK_OUT_PROBABILITIES,
    KNOCK_OUTS,
    LABEL_NOISE,
    LOGIT_SLOPE,
)
from training.synthetic.rules import YOUTH, Impairment, KnockOut

INTRODUCTION = """## How the synthetic applicants are generated

The training data are synthetic: no real person is in them. Each applicant is drawn at random
(seeded, so a data set is reproducible) with realistic shares and correlations, then labelled by
the rules below. Because the rules are known exactly, so is the best any model could do."""

APPLICANTS = """### Applicants
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
  half, otherwise 1-10 times income."""


def rating_table(debits: tuple[Impairment, ...] = DEBITS) -> str:
    """The debits table: one row per impairment, each rule in its own words."""
    rows = [f"| {impairment.label} | {impairment.describe()} |" for impairment in debits]
    return "\n".join(["| impairment | debits |", "|---|---|", *rows])


def knock_out_list(rules: tuple[KnockOut, ...] = KNOCK_OUTS) -> str:
    """The knock-outs in one sentence."""
    return "; ".join(rule.describe() for rule in rules)


def _income_multiple_rows() -> str:
    rows, lower = [], 18
    for below, multiple in INCOME_MULTIPLES:
        rows.append(f"| {lower}-{below - 1} | {multiple:g}x |")
        lower = below
    rows.append(f"| {lower}+ | {INCOME_MULTIPLE_65_PLUS:g}x |")
    return "\n".join(rows)


def risk_class_section(
    debits: tuple[Impairment, ...] = DEBITS, knock_outs: tuple[KnockOut, ...] = KNOCK_OUTS
) -> str:
    """The numerical rating method: debits, knock-outs and the ordered logit."""
    declined = (1 - LABEL_NOISE) * KNOCK_OUT_PROBABILITIES[-1] + LABEL_NOISE / len(CLASS_NAMES)
    midpoints = [100 * np.exp(cut / LOGIT_SLOPE) for cut in CUTPOINTS]
    return f"""### Risk class: the numerical rating method
Every applicant starts at a mortality of 100% of standard; each impairment adds debits
(percentage points). Continuous measurements are debited on straight-line slopes, not steps: a
rate holds from its threshold up to the next. Debits marked {YOUTH.mark} are weighted by age,
because {YOUTH.words}.

{rating_table(debits)}

**Knock-outs** (declined whatever the debits): {knock_out_list(knock_outs)}. A knock-out is
declined with probability {declined:.3f}.

Otherwise the class follows an ordered logit on x = {LOGIT_SLOPE:g} ln(multiple / 100):
P(standard) = sigmoid({CUTPOINTS[0]:g} - x) and P(standard or substandard) =
sigmoid({CUTPOINTS[1]:g} - x). An applicant at {midpoints[0]:.0f}% is as likely standard as
not; at {midpoints[1]:.0f}% as likely declined as not. Finally {LABEL_NOISE:.0%} of labels are
replaced by a class drawn uniformly (underwriters' judgement and clerical noise). Overall about
70% are standard, 22% substandard and 8% declined."""


def _class_shares() -> str:
    return ", ".join(
        f"{name} {factor:.0%}"
        for name, factor in zip(CLASS_NAMES, CLASS_COVERAGE_FACTORS, strict=True)
    )


def coverage_section() -> str:
    """Financial underwriting: the income multiples and the steps to the offered amount."""
    return f"""### Maximum coverage: financial underwriting

| age | multiple of income |
|---|---|
{_income_multiple_rows()}

1. Capacity is the larger of the income multiple for the age (table) times annual income, and
   {NET_WORTH_FRACTION:.0%} of (positive) net worth.
2. Existing coverage is subtracted; the result is never below $0.
3. Each class gets its share of it: {_class_shares()}.
4. The amount is capped at ${COVERAGE_CAP:,.0f}, then rounded down to ${COVERAGE_STEP:,.0f}s.

The expected coverage of an applicant weighs each class's amount by its true probability."""


def rules_markdown(
    debits: tuple[Impairment, ...] = DEBITS, knock_outs: tuple[KnockOut, ...] = KNOCK_OUTS
) -> str:
    """The whole rules section of a report."""
    sections = [
        INTRODUCTION,
        APPLICANTS,
        risk_class_section(debits, knock_outs),
        coverage_section(),
    ]
    return "\n\n".join(sections) + "\n"


RULES_MARKDOWN = rules_markdown()
