"""The applicant feature declaration: the one place features are defined.

Everything else derives from it: the synthetic generator's columns, CSV validation, the
in-model preprocessing and the networks' monotone constraints (each feature's role and risk
direction), the behaviour audit, and (through metadata.json) the service's request schemas and
reason codes. Categories of a feature with a risk direction are ordered best to worst in `order`;
each category has words for people (`category_labels`: the letters, the model card), while its
code is what the API sends and answers.
"""

from __future__ import annotations

from contract.features import Feature, ProhibitedFields, Risk, Worse

# BMI at which build starts to cost (the rating table debits from 30; the direction holds from
# 25, where underwriting manuals agree more weight is worse).
BMI_RISK_FROM = 25.0
_BUILD = ("bmi", BMI_RISK_FROM)


def _worse(
    reason: str,
    worse: Worse = "higher",
    order: tuple[str, ...] | None = None,
    where: tuple[str, float] | None = None,
    reference: float | None = None,
) -> Risk:
    return Risk(worse=worse, order=order, where=where, reason=reason, reference=reference)


# A number's `reference` is its best-risk value, where reasons are measured from: the limits of
# a preferred-risk class (blood pressure 130/85, HbA1c 5.6%, total cholesterol 200 and HDL 50,
# 14 drinks a week, two moving violations). Values no worse than it are never a reason.
FEATURES: tuple[Feature, ...] = (
    Feature("age", "integer", "years", "Age at last birthday.", 18, 85, role="demographic"),
    Feature(
        "sex",
        "category",
        "",
        "Sex at birth, as used in mortality tables.",
        categories=("female", "male"),
        category_labels=("Female", "Male"),
        role="demographic",
    ),
    Feature(
        "height_cm",
        "number",
        "cm",
        "Measured height.",
        120.0,
        220.0,
        role="medical",
        risk=_worse("Build: weight high for height", "lower", where=_BUILD),
    ),
    Feature(
        "weight_kg",
        "number",
        "kg",
        "Measured weight.",
        35.0,
        250.0,
        role="medical",
        risk=_worse("Build: weight high for height", where=_BUILD),
    ),
    Feature(
        "tobacco_use",
        "category",
        "",
        "Tobacco or nicotine use and time since quitting.",
        categories=("never", "former_over_5y", "former_1_5y", "current"),
        category_labels=(
            "Never",
            "Former user, quit more than 5 years ago",
            "Former user, quit 1 to 5 years ago",
            "Current user",
        ),
        role="behavioural",
        risk=_worse(
            "Tobacco or nicotine use",
            "later",
            order=("never", "former_over_5y", "former_1_5y", "current"),
        ),
    ),
    Feature(
        "systolic_bp",
        "integer",
        "mmHg",
        "Systolic blood pressure at the exam.",
        80,
        240,
        role="medical",
        risk=_worse("Systolic blood pressure above the standard range", reference=130),
    ),
    Feature(
        "diastolic_bp",
        "integer",
        "mmHg",
        "Diastolic blood pressure at the exam.",
        40,
        150,
        role="medical",
        risk=_worse("Diastolic blood pressure above the standard range", reference=85),
    ),
    Feature(
        "bp_treatment",
        "boolean",
        "",
        "Currently treated for high blood pressure.",
        role="medical",
        risk=_worse("Treatment for high blood pressure"),
    ),
    Feature(
        "total_cholesterol",
        "number",
        "mg/dL",
        "Total serum cholesterol.",
        90.0,
        450.0,
        role="medical",
        risk=_worse("Cholesterol ratio above the standard range", reference=200.0),
    ),
    Feature(
        "hdl_cholesterol",
        "number",
        "mg/dL",
        "HDL cholesterol.",
        15.0,
        130.0,
        role="medical",
        risk=_worse("Cholesterol ratio above the standard range", "lower", reference=50.0),
    ),
    Feature(
        "hba1c",
        "number",
        "%",
        "Glycated haemoglobin (HbA1c).",
        3.5,
        15.0,
        role="medical",
        risk=_worse("Blood sugar (HbA1c) above the standard range", reference=5.6),
    ),
    Feature(
        "diabetes",
        "category",
        "",
        "Diagnosed diabetes.",
        categories=("none", "type_1", "type_2"),
        category_labels=("None", "Type 1", "Type 2"),
        role="medical",
        risk=_worse("Diagnosed diabetes", "later", order=("none", "type_2", "type_1")),
    ),
    Feature(
        "family_history_count",
        "integer",
        "relatives",
        "Parents or siblings with cardiovascular disease or cancer before age 60.",
        0,
        6,
        role="medical",
        risk=_worse("Family history of early heart disease or cancer", reference=0),
    ),
    Feature(
        "cardiac_history",
        "category",
        "",
        "Most recent coronary event (heart attack, bypass, stent).",
        categories=("none", "event_over_5y", "event_within_5y"),
        category_labels=("None", "More than 5 years ago", "Within the last 5 years"),
        role="medical",
        risk=_worse(
            "History of heart disease",
            "later",
            order=("none", "event_over_5y", "event_within_5y"),
        ),
    ),
    Feature(
        "cancer_history",
        "category",
        "",
        "Cancer history other than basal-cell skin cancer.",
        categories=("none", "remission_over_5y", "remission_under_5y", "active"),
        category_labels=(
            "None",
            "In remission for more than 5 years",
            "In remission for less than 5 years",
            "Active or under treatment",
        ),
        role="medical",
        risk=_worse(
            "History of cancer",
            "later",
            order=("none", "remission_over_5y", "remission_under_5y", "active"),
        ),
    ),
    Feature(
        "alcohol_drinks_per_week",
        "integer",
        "drinks/week",
        "Standard alcoholic drinks per week.",
        0,
        100,
        role="behavioural",
        risk=_worse("Alcohol consumption", reference=14),
    ),
    Feature(
        "dui_count_5y",
        "integer",
        "convictions",
        "Driving-under-the-influence convictions in the last 5 years.",
        0,
        10,
        role="behavioural",
        risk=_worse("Driving under the influence convictions", reference=0),
    ),
    Feature(
        "moving_violations_3y",
        "integer",
        "violations",
        "Moving traffic violations in the last 3 years.",
        0,
        20,
        role="behavioural",
        risk=_worse("Motor vehicle record", reference=2),
    ),
    Feature(
        "occupation_hazard",
        "category",
        "",
        "Hazard class of the main occupation.",
        categories=("low", "moderate", "high"),
        category_labels=("Low", "Moderate", "High"),
        role="behavioural",
        risk=_worse("Hazardous occupation", "later", order=("low", "moderate", "high")),
    ),
    Feature(
        "hazardous_avocation",
        "boolean",
        "",
        "Takes part in aviation, climbing, diving, motor racing or similar.",
        role="behavioural",
        risk=_worse("Hazardous sports or activities"),
    ),
    Feature(
        "annual_income",
        "number",
        "USD",
        "Earned annual income before tax.",
        0.0,
        10_000_000.0,
        role="financial",
    ),
    Feature(
        "net_worth",
        "number",
        "USD",
        "Assets minus liabilities.",
        -5_000_000.0,
        200_000_000.0,
        role="financial",
    ),
    Feature(
        "existing_coverage",
        "number",
        "USD",
        "Life insurance already in force.",
        0.0,
        50_000_000.0,
        role="financial",
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

CLASS_NAMES: tuple[str, ...] = ("standard", "substandard", "decline")

# Never features; a request carrying them is rejected by name (the list travels in metadata.json).
PROTECTED_ATTRIBUTES: tuple[str, ...] = (
    "race",
    "ethnicity",
    "religion",
    "national_origin",
    "nationality",
    "sexual_orientation",
    "gender_identity",
    "marital_status",
    "disability",
    "genetic_information",
)
IDENTIFIERS: tuple[str, ...] = (
    "name",
    "first_name",
    "last_name",
    "full_name",
    "address",
    "street",
    "city",
    "zip",
    "zip_code",
    "postal_code",
    "email",
    "phone",
    "ssn",
    "social_security_number",
    "date_of_birth",
    "dob",
    "applicant_id",
    "policy_number",
)

PROHIBITED = ProhibitedFields(PROTECTED_ATTRIBUTES, IDENTIFIERS)
