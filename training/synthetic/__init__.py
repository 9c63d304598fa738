"""Seeded synthetic life-insurance applicants whose true class probabilities and coverage are known.

- population.py draws the applicants (realistic marginals and correlations);
- rules.py defines the kinds of rating rule, rating.py declares the rating table and knock-outs
  that label the risk class through an ordered logit, coverage.py the financial underwriting;
- generator.py draws a labelled sample with its exact label distribution and true debits;
- document.py writes the rules section of the report from those same tables.
"""

from training.guidelines import COVERAGE_CAP
from training.synthetic.coverage import CLASS_COVERAGE_FACTORS, COVERAGE_STEP, coverage_for_class
from training.synthetic.document import RULES_MARKDOWN, rules_markdown
from training.synthetic.generator import SyntheticSample, generate
from training.synthetic.rating import (
    DEBITS,
    KNOCK_OUTS,
    LABEL_NOISE,
    class_probabilities,
    knock_outs,
    mortality_multiple,
    rating_debits,
)

__all__ = [
    "CLASS_COVERAGE_FACTORS",
    "COVERAGE_CAP",
    "COVERAGE_STEP",
    "DEBITS",
    "KNOCK_OUTS",
    "LABEL_NOISE",
    "RULES_MARKDOWN",
    "SyntheticSample",
    "class_probabilities",
    "coverage_for_class",
    "generate",
    "knock_outs",
    "mortality_multiple",
    "rating_debits",
    "rules_markdown",
]
