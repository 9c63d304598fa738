"""The applicant feature declaration training uses: declarations/applicants.toml, read once.

Everything else derives from it: the synthetic generator's columns, CSV validation, the
in-model preprocessing and the networks' monotone constraints (each feature's role and risk
direction), the behaviour audit, and (through metadata.json) the service's request schemas and
reason wording. The file says what each key means (training/declaration.py reads and checks it).
"""

from __future__ import annotations

from contract.features import Feature
from training.declaration import DEFAULT_DECLARATION, load_declaration

# BMI at which build starts to cost in the network's preprocessing (the rating table debits from
# 30; the direction holds from 25, where underwriting manuals agree more weight is worse): the
# declaration's `where` bound for height and weight (a test holds them equal).
BMI_RISK_FROM = 25.0

DECLARATION = load_declaration(DEFAULT_DECLARATION)
FEATURES = DECLARATION.features

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

CLASS_NAMES: tuple[str, ...] = ("standard", "substandard", "decline")

PROHIBITED = DECLARATION.prohibited
