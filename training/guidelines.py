"""The insurer's financial underwriting guidelines: how much cover income and wealth justify.

Shared by the synthetic generator (which labels applicants with them) and the preprocessing
(which derives each applicant's financial capacity from them, as an underwriter's worksheet does).
"""

from __future__ import annotations

# (age below, multiple of annual income); from 65 on, INCOME_MULTIPLE_65_PLUS.
INCOME_MULTIPLES = ((40, 30.0), (50, 20.0), (60, 15.0), (65, 10.0))
INCOME_MULTIPLE_65_PLUS = 5.0
NET_WORTH_FRACTION = 0.5
COVERAGE_CAP = 10_000_000.0  # the company's retention limit per life

# How each financial feature moves the cover the guidelines allow, everything else equal.
MONEY_MOVES = {"annual_income": "rises", "net_worth": "rises", "existing_coverage": "falls"}
# The coverage model's money block, by name (its capacity layer reads columns by these names).
MONEY_COLUMNS = ("age", *MONEY_MOVES)
