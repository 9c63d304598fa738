"""Feature specifications: one applicant field's type, unit, valid values and meaning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from contract.errors import ContractError

FeatureType = Literal["integer", "number", "boolean", "category"]
FEATURE_TYPES: tuple[str, ...] = get_args(FeatureType)


@dataclass(frozen=True)
class Feature:
    """One applicant field: its type, unit, valid range or categories, and meaning."""

    name: str
    type: FeatureType
    unit: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form, omitting keys that do not apply."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "unit": self.unit}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.categories is not None:
            out["categories"] = list(self.categories)
        out["description"] = self.description
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Feature:
        """Parse one entry of metadata.json's `features`, refusing what does not fit its type."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ContractError(f"feature {raw!r} is not an object with a name")
        name, kind = raw["name"], raw.get("type")
        if kind not in FEATURE_TYPES:
            raise ContractError(f"feature {name!r} has unknown type {kind!r}")
        categories = raw.get("categories")
        if (kind == "category") != isinstance(categories, list) or (
            categories is not None and not all(isinstance(c, str) for c in categories)
        ):
            raise ContractError(f"feature {name!r}: categories must be a list of strings")
        bounds = [raw.get(key) for key in ("minimum", "maximum")]
        if not all(b is None or type(b) in (int, float) for b in bounds):
            raise ContractError(f"feature {name!r}: minimum and maximum must be numbers")
        return cls(
            name=name,
            type=kind,
            unit=str(raw.get("unit", "")),
            description=str(raw.get("description", "")),
            minimum=bounds[0],
            maximum=bounds[1],
            categories=None if categories is None else tuple(categories),
        )


@dataclass(frozen=True)
class ProhibitedFields:
    """Fields a request or a training file must never carry, each refused by name."""

    protected: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()

    def kind(self, name: str) -> str | None:
        """Say why `name` is prohibited ("protected attribute", "identifier"), or None."""
        if name in self.protected:
            return "protected attribute"
        if name in self.identifiers:
            return "identifier"
        return None

    def to_json(self) -> dict[str, list[str]]:
        """Return the metadata.json form."""
        return {"protected": list(self.protected), "identifiers": list(self.identifiers)}

    @classmethod
    def from_json(cls, raw: Any) -> ProhibitedFields:
        """Parse metadata.json's `prohibited_fields` (absent: nothing prohibited)."""
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise ContractError("prohibited_fields is not an object")
        lists = [raw.get(key, []) for key in ("protected", "identifiers")]
        if not all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in lists):
            raise ContractError("prohibited_fields must hold lists of names")
        return cls(tuple(lists[0]), tuple(lists[1]))
