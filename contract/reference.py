"""Reference distributions: how each feature and output was spread in training, for drift.

A number is binned by the training split's deciles (ties merged, so a mostly-zero count may have
fewer than ten bins); a category or a boolean has one bin per value. The population stability
index compares live counts in the same bins with the reference proportions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from contract.errors import ContractError

QUANTILE_BINS = 10
PSI_FLOOR = 1e-4  # a bin empty on one side would make PSI infinite: proportions floored here
# The usual reading of PSI (and the alert bands): below 0.10 stable, 0.25 and above act.
PSI_INVESTIGATE = 0.10
PSI_ACT = 0.25


@dataclass(frozen=True)
class Binned:
    """One variable's reference: its bins (edges or values) and the share of training in each."""

    proportions: tuple[float, ...]
    edges: tuple[float, ...] | None = None  # numbers: bin i holds (edges[i-1], edges[i]]
    values: tuple[str, ...] | None = None  # categories and booleans: one bin per value

    @classmethod
    def of_numbers(cls, values: np.ndarray) -> Binned:
        """Decile bins of a numeric sample."""
        sample = np.asarray(values, dtype=np.float64)
        points = np.arange(1, QUANTILE_BINS) / QUANTILE_BINS  # edges are values seen in training
        quantiles = np.quantile(sample, points, method="inverted_cdf")
        edges = tuple(float(e) for e in np.unique(quantiles))
        counts = np.bincount(np.searchsorted(edges, sample, side="left"), minlength=len(edges) + 1)
        return cls(_shares(counts), edges=edges)

    @classmethod
    def of_values(cls, values: np.ndarray, known: Sequence[str]) -> Binned:
        """One bin per known value (booleans as "false" and "true")."""
        labels = [_label(v) for v in np.asarray(values).tolist()]
        counts = np.asarray([labels.count(k) for k in known])
        return cls(_shares(counts), values=tuple(known))

    def counts(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """How many of `values` fall in each bin (unknown categories in none)."""
        if self.edges is not None:
            numbers = np.asarray(values, dtype=np.float64)
            index = np.searchsorted(self.edges, numbers, side="left")
            return np.bincount(index, minlength=len(self.proportions))
        assert self.values is not None
        position = {value: i for i, value in enumerate(self.values)}
        found = np.zeros(len(self.values), dtype=np.int64)
        for value in values:
            if (i := position.get(_label(value))) is not None:
                found[i] += 1
        return found

    def psi(self, counts: Sequence[int] | np.ndarray) -> float:
        """Population stability index of live `counts` in these bins against the reference."""
        return psi_between(np.asarray(self.proportions), counts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"proportions": list(self.proportions)}
        if self.edges is not None:
            out["edges"] = list(self.edges)
        if self.values is not None:
            out["values"] = list(self.values)
        return out

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Binned:
        if not isinstance(raw, Mapping):
            raise ContractError(f"reference {where} is not an object")
        shares = raw.get("proportions")
        if not (isinstance(shares, list) and shares and all(_number(s) and s >= 0 for s in shares)):
            raise ContractError(f"reference {where}: proportions must be non-negative numbers")
        if not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
            raise ContractError(f"reference {where}: proportions must add up to 1")
        edges, values = raw.get("edges"), raw.get("values")
        if (edges is None) == (values is None):
            raise ContractError(f"reference {where} needs exactly one of edges or values")
        if edges is not None:
            if not (isinstance(edges, list) and all(_number(e) for e in edges)):
                raise ContractError(f"reference {where}: edges must be numbers")
            if sorted(set(edges)) != edges or len(edges) + 1 != len(shares):
                raise ContractError(f"reference {where}: edges must rise, one fewer than bins")
            return cls(tuple(float(s) for s in shares), edges=tuple(float(e) for e in edges))
        if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            raise ContractError(f"reference {where}: values must be strings")
        if len(values) != len(shares):
            raise ContractError(f"reference {where}: one proportion per value")
        return cls(tuple(float(s) for s in shares), values=tuple(values))


def psi_between(
    expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray
) -> float:
    """Population stability index of `actual` against `expected` (counts or shares, same bins)."""
    found = np.asarray(actual, dtype=np.float64)
    base = np.asarray(expected, dtype=np.float64)
    if found.sum() <= 0 or base.sum() <= 0:
        return 0.0
    shares = np.maximum(found / found.sum(), PSI_FLOOR)
    reference = np.maximum(base / base.sum(), PSI_FLOOR)
    return float(np.sum((shares - reference) * np.log(shares / reference)))


def _shares(counts: np.ndarray) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(c) / total for c in counts) if total else tuple(0.0 for _ in counts)


def _label(value: Any) -> str:
    """A category as itself; a boolean as "true" / "false"."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def references_to_json(references: Mapping[str, Binned]) -> dict[str, Any]:
    return {name: binned.to_json() for name, binned in references.items()}


def references_from_json(raw: Any) -> dict[str, Binned]:
    if not isinstance(raw, Mapping):
        raise ContractError("reference is not an object")
    return {str(name): Binned.from_json(value, str(name)) for name, value in raw.items()}
