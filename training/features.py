"""The applicant feature declaration: the one place features are defined.

Everything else derives from it: the synthetic generator's columns, CSV validation, the
in-model preprocessing, and (through metadata.json) the service's request schemas.
"""

from __future__ import annotations

from contract.features import Feature, ProhibitedFields

FEATURES: tuple[Feature, ...] = (
    Feature("age", "integer", "years", "Age at last birthday.", 18, 85),
    Feature(
        "sex",
        "category",
        "",
        "Sex at birth, as used in mortality tables.",
        categories=("female", "male"),
    ),
    Feature("height_cm", "number", "cm", "Measured height.", 120.0, 220.0),
    Feature("weight_kg", "number", "kg", "Measured weight.", 35.0, 250.0),
    Feature(
        "tobacco_use",
        "category",
        "",
        "Tobacco or nicotine use and time since quitting.",
        categories=("never", "former_over_5y", "former_1_5y", "current"),
    ),
    Feature("systolic_bp", "integer", "mmHg", "Systolic blood pressure at the exam.", 80, 240),
    Feature("diastolic_bp", "integer", "mmHg", "Diastolic blood pressure at the exam.", 40, 150),
    Feature("bp_treatment", "boolean", "", "Currently treated for high blood pressure."),
    Feature("total_cholesterol", "number", "mg/dL", "Total serum cholesterol.", 90.0, 450.0),
    Feature("hdl_cholesterol", "number", "mg/dL", "HDL cholesterol.", 15.0, 130.0),
    Feature("hba1c", "number", "%", "Glycated haemoglobin (HbA1c).", 3.5, 15.0),
    Feature(
        "diabetes", "category", "", "Diagnosed diabetes.", categories=("none", "type_1", "type_2")
    ),
    Feature(
        "family_history_count",
        "integer",
        "relatives",
        "Parents or siblings with cardiovascular disease or cancer before age 60.",
        0,
        6,
    ),
    Feature(
        "cardiac_history",
        "category",
        "",
        "Most recent coronary event (heart attack, bypass, stent).",
        categories=("none", "event_over_5y", "event_within_5y"),
    ),
    Feature(
        "cancer_history",
        "category",
        "",
        "Cancer history other than basal-cell skin cancer.",
        categories=("none", "remission_over_5y", "remission_under_5y", "active"),
    ),
    Feature(
        "alcohol_drinks_per_week",
        "integer",
        "drinks/week",
        "Standard alcoholic drinks per week.",
        0,
        100,
    ),
    Feature(
        "dui_count_5y",
        "integer",
        "convictions",
        "Driving-under-the-influence convictions in the last 5 years.",
        0,
        10,
    ),
    Feature(
        "moving_violations_3y",
        "integer",
        "violations",
        "Moving traffic violations in the last 3 years.",
        0,
        20,
    ),
    Feature(
        "occupation_hazard",
        "category",
        "",
        "Hazard class of the main occupation.",
        categories=("low", "moderate", "high"),
    ),
    Feature(
        "hazardous_avocation",
        "boolean",
        "",
        "Takes part in aviation, climbing, diving, motor racing or similar.",
    ),
    Feature(
        "annual_income", "number", "USD", "Earned annual income before tax.", 0.0, 10_000_000.0
    ),
    Feature("net_worth", "number", "USD", "Assets minus liabilities.", -5_000_000.0, 200_000_000.0),
    Feature(
        "existing_coverage", "number", "USD", "Life insurance already in force.", 0.0, 50_000_000.0
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
