"""The kinds of rating rule: each computes its debits (or condition) and says itself in words.

A rule is data (a measure, thresholds, rates); the same object computes the debits of a sample
and renders the line of the report that states it, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

Columns = Mapping[str, np.ndarray]


def number(columns: Columns, name: str) -> np.ndarray:
    """Return a numeric or boolean column as float64."""
    return np.asarray(columns[name], dtype=np.float64)


def bmi(columns: Columns) -> np.ndarray:
    """Return body-mass index from the published height and weight."""
    return number(columns, "weight_kg") / (number(columns, "height_cm") / 100.0) ** 2


def _plain(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Measure:
    """A quantity rules read: a column, or one derived from columns (BMI, a ratio)."""

    label: str  # as the report names it: "BMI", "systolic"
    unit: str  # what one unit is: "unit", "mmHg", "point of HbA1c"
    values: Callable[[Columns], np.ndarray]
    suffix: str = ""  # written after a threshold: "%" for HbA1c
    reads: tuple[str, ...] = ()  # the columns it is computed from

    @classmethod
    def column(cls, name: str, label: str, unit: str, suffix: str = "") -> Measure:
        """Measure a declared numeric or boolean column as it is."""
        return cls(label, unit, lambda columns: number(columns, name), suffix, (name,))

    def at(self, threshold: float) -> str:
        """Write a threshold in the measure's own terms: `8%`, `135`."""
        return f"{_plain(threshold)}{self.suffix}"


@dataclass(frozen=True)
class AgeWeight:
    """A factor on a rule's debits that depends on age (the report marks weighted rules)."""

    mark: str  # "(a)" in the table; "" for a weight the rule's own words explain
    factors: Callable[[Columns], np.ndarray]
    words: str  # how the report explains the weight


def _youth(columns: Columns) -> np.ndarray:
    return np.clip(1 + (50 - number(columns, "age")) / 60, 0.7, 1.5)


def _fading(columns: Columns) -> np.ndarray:
    return np.clip((70 - number(columns, "age")) / 10, 0, 1)


YOUTH = AgeWeight(
    "(a)",
    _youth,
    "an impairment that starts young costs more life: x1.5 at 20, x1 at 50, x0.7 from 68",
)
FADING_FROM_60 = AgeWeight("", _fading, "under age 60, fading to nothing by 70")


@dataclass(frozen=True)
class Slopes:
    """Debits per unit of a measure beyond thresholds; each rate holds from its threshold on.

    Continuous debits (straight lines, not steps) are what a network can learn smoothly.
    `below` counts units under the threshold instead of over it.
    """

    measure: Measure
    steps: tuple[tuple[float, float], ...]  # (threshold, debits per unit beyond it), rising
    below: bool = False
    weight: AgeWeight | None = None

    def debits(self, columns: Columns) -> np.ndarray:
        """Return the rule's debits per applicant."""
        x = self.measure.values(columns)
        total, previous = np.zeros(len(x)), 0.0
        for threshold, rate in self.steps:
            beyond = threshold - x if self.below else x - threshold
            total += (rate - previous) * np.maximum(beyond, 0.0)
            previous = rate
        return total * (self.weight.factors(columns) if self.weight else 1.0)

    def describe(self) -> str:
        """Say the rule: `5 per unit above 30, 15 above 35`."""
        side = "below" if self.below else "above"
        (first, rate), *rest = self.steps
        words = [
            f"{self.measure.label} {_plain(rate)} per {self.measure.unit} {side} "
            f"{self.measure.at(first)}"
        ]
        words += [f"{_plain(r)} {side} {self.measure.at(t)}" for t, r in rest]
        return ", ".join(words) + (
            f" ({self.weight.words})" if self.weight and not self.weight.mark else ""
        )


@dataclass(frozen=True)
class Table:
    """Debits for some categories of a column; the others carry none."""

    column: str
    label: str  # "" when the categories speak for themselves
    debits_by_category: tuple[tuple[str, float], ...]
    weight: AgeWeight | None = None

    def debits(self, columns: Columns) -> np.ndarray:
        values = np.asarray(columns[self.column])
        out = np.zeros(values.shape, dtype=np.float64)
        for category, debits in self.debits_by_category:
            out[values == category] = debits
        return out * (self.weight.factors(columns) if self.weight else 1.0)

    def describe(self) -> str:
        """Say the rule: `tobacco current 75, former_1_5y 35`."""
        parts = ", ".join(f"{c} {_plain(d)}" for c, d in self.debits_by_category)
        return f"{self.label} {parts}".strip()


@dataclass(frozen=True)
class Flag:
    """Debits for a true boolean column."""

    column: str
    label: str
    debits_if_true: float
    weight: AgeWeight | None = None

    def debits(self, columns: Columns) -> np.ndarray:
        out = self.debits_if_true * number(columns, self.column)
        return out * (self.weight.factors(columns) if self.weight else 1.0)

    def describe(self) -> str:
        return f"{self.label} {_plain(self.debits_if_true)}"


Rule = Slopes | Table | Flag


@dataclass(frozen=True)
class Impairment:
    """One line of the rating table: an impairment and the rules that debit it."""

    name: str  # the key of `rating_debits` and of the generator's true debits
    label: str  # the table's first column
    rules: tuple[Rule, ...]

    def debits(self, columns: Columns) -> np.ndarray:
        """Return the impairment's debits per applicant (percentage points of mortality)."""
        n = len(next(iter(columns.values())))
        return sum((rule.debits(columns) for rule in self.rules), np.zeros(n))

    def reads(self) -> set[str]:
        """The columns its rules read."""
        return {name for rule in self.rules for name in _reads(rule)}

    def describe(self) -> str:
        """Say every rule, marking the age-weighted ones."""
        return "; ".join(
            rule.describe() + (f" {rule.weight.mark}" if rule.weight and rule.weight.mark else "")
            for rule in self.rules
        )


# --- Conditions, for knock-outs ---------------------------------------------------------------


@dataclass(frozen=True)
class Is:
    """A category column holds one value (or, with `negate`, any other)."""

    column: str
    label: str
    value: str
    negate: bool = False

    def holds(self, columns: Columns) -> np.ndarray:
        equal = np.asarray(columns[self.column]) == self.value
        return ~equal if self.negate else equal

    def describe(self) -> str:
        return f"{self.label} {'is not' if self.negate else 'is'} {self.value}"


@dataclass(frozen=True)
class AtLeast:
    """A measure reaches a threshold (`strict`: exceeds it)."""

    measure: Measure
    threshold: float
    strict: bool = False

    def holds(self, columns: Columns) -> np.ndarray:
        x = self.measure.values(columns)
        return x > self.threshold if self.strict else x >= self.threshold

    def describe(self) -> str:
        at = self.measure.at(self.threshold)
        if self.strict:
            return f"{self.measure.label} above {at}"
        return f"{self.measure.label} {at} or more"


Condition = Is | AtLeast


@dataclass(frozen=True)
class KnockOut:
    """Declined whatever the debits: every `all_of` holds, and one of `any_of` if given."""

    all_of: tuple[Condition, ...]
    any_of: tuple[Condition, ...] = ()

    def holds(self, columns: Columns) -> np.ndarray:
        n = len(next(iter(columns.values())))
        result = np.ones(n, dtype=bool)
        for condition in self.all_of:
            result &= condition.holds(columns)
        if self.any_of:
            result &= np.logical_or.reduce([c.holds(columns) for c in self.any_of])
        return result

    def reads(self) -> set[str]:
        """The columns of its `all_of` conditions: what the knock-out is about."""
        return {name for condition in self.all_of for name in _reads(condition)}

    def describe(self) -> str:
        """Say it: `cardiac history is event_within_5y together with A, B or C`."""
        words = " and ".join(c.describe() for c in self.all_of)
        if self.any_of:
            options = [c.describe() for c in self.any_of]
            either = (
                ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
            )
            words += f" together with {either}"
        return words


def _reads(part: Rule | Condition) -> tuple[str, ...]:
    """The columns a rule or condition reads."""
    if isinstance(part, (Slopes, AtLeast)):
        return part.measure.reads
    return (part.column,)
