"""Feature specifications: one applicant field's type, unit, valid values and meaning."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from contract.errors import ContractError
from contract.measures import MEASURES  # what a risk direction may be conditioned on

FeatureType = Literal["integer", "number", "boolean", "category"]
FEATURE_TYPES: tuple[str, ...] = get_args(FeatureType)
Role = Literal["medical", "behavioural", "financial", "demographic"]
ROLES: tuple[str, ...] = get_args(Role)
Worse = Literal["higher", "lower", "later"]


@dataclass(frozen=True)
class Risk:
    """Which way a feature's values get worse, where underwriting manuals agree.

    `worse` is "higher" (a number, or true, is worse the higher it is), "lower", or "later"
    (a category is worse the later it comes in `order`, which lists them best first). The
    direction may hold only where a derived measure is at least a threshold (`where`: BMI 25
    and over, for height and weight). `reason` is the wording of the reason code an adverse
    decision gives for this feature; compliance staff edit it, not the model. `reference` is a
    number's best-risk value: a value no worse than it is never a reason (categories: the first
    in `order`; flags: false; a conditioned direction: its measure at the bound).
    """

    worse: Worse
    order: tuple[str, ...] | None = None
    where: tuple[str, float] | None = None  # (measure, at least)
    reason: str = ""
    reference: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form, omitting keys that do not apply."""
        out: dict[str, Any] = {"worse": self.worse}
        if self.order is not None:
            out["order"] = list(self.order)
        if self.where is not None:
            out["where"] = {"measure": self.where[0], "at_least": self.where[1]}
        out["reason"] = self.reason
        if self.reference is not None:
            out["reference"] = self.reference
        return out

    @classmethod
    def from_json(cls, raw: Any, feature: str) -> Risk:
        """Parse a feature's `risk`."""
        if not isinstance(raw, Mapping) or raw.get("worse") not in get_args(Worse):
            raise ContractError(f"feature {feature!r}: risk needs worse: higher, lower or later")
        order, where = raw.get("order"), raw.get("where")
        if order is not None and not (
            isinstance(order, list) and all(isinstance(o, str) for o in order)
        ):
            raise ContractError(f"feature {feature!r}: risk order must list category names")
        if where is not None and not (
            isinstance(where, Mapping)
            and where.get("measure") in MEASURES
            and type(where.get("at_least")) in (int, float)
        ):
            raise ContractError(f"feature {feature!r}: risk where must name a measure and a bound")
        reference = raw.get("reference")
        if reference is not None and type(reference) not in (int, float):
            raise ContractError(f"feature {feature!r}: risk reference must be a number")
        return cls(
            worse=raw["worse"],
            order=None if order is None else tuple(order),
            where=None if where is None else (where["measure"], where["at_least"]),
            reason=str(raw.get("reason", "")),
            reference=reference,
        )


@dataclass(frozen=True)
class Feature:
    """One applicant field: type, unit, valid range or categories, meaning, role and risk.

    `category_labels` are the categories' words for people (letters, the model card), in the
    order of `categories`: the codes stay what the API sends and answers. A declaration
    written before labels existed has none; `label` then makes the code readable.
    """

    name: str
    type: FeatureType
    unit: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] | None = None
    role: Role | None = None
    risk: Risk | None = None
    category_labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        labels = self.category_labels
        if labels is not None and (
            self.categories is None
            or len(labels) != len(self.categories)
            or len(set(labels)) != len(labels)  # two categories in one word: ambiguous
            or not all(w.strip() for w in labels)
        ):
            raise ContractError(
                f"feature {self.name!r}: category_labels give each category its own words"
            )

    def label(self, value: str) -> str:
        """The words for one of the categories: its declared label, else the code made readable."""
        if self.categories and self.category_labels and value in self.categories:
            return self.category_labels[self.categories.index(value)]
        return readable(value)

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form, omitting keys that do not apply."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "unit": self.unit}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.category_labels is not None:
            labelled = zip(self.categories or (), self.category_labels, strict=True)
            out["category_labels"] = dict(labelled)
        out["description"] = self.description
        if self.role is not None:
            out["role"] = self.role
        if self.risk is not None:
            out["risk"] = self.risk.to_json()
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
        if raw.get("role") is not None and raw.get("role") not in ROLES:
            raise ContractError(f"feature {name!r} has unknown role {raw.get('role')!r}")
        labels = _category_labels(raw.get("category_labels"), name, categories)
        risk = None if raw.get("risk") is None else Risk.from_json(raw["risk"], name)
        if risk is not None and (risk.worse == "later") != (kind == "category"):
            raise ContractError(f"feature {name!r}: only categories get worse 'later'")
        if (
            risk is not None
            and risk.order is not None
            and sorted(risk.order) != sorted(categories or ())
        ):
            raise ContractError(f"feature {name!r}: risk order must list every category once")
        if risk is not None and kind == "boolean" and risk.worse != "higher":
            raise ContractError(f"feature {name!r}: a flag is worse when true (worse: higher)")
        if risk is not None and risk.reference is not None and kind not in ("integer", "number"):
            raise ContractError(f"feature {name!r}: only numbers declare a risk reference")
        return cls(
            name=name,
            type=kind,
            unit=str(raw.get("unit", "")),
            description=str(raw.get("description", "")),
            minimum=bounds[0],
            maximum=bounds[1],
            categories=None if categories is None else tuple(categories),
            role=raw.get("role"),
            risk=risk,
            category_labels=labels,
        )


def _category_labels(raw: Any, name: str, categories: list[str] | None) -> tuple[str, ...] | None:
    """Parse a feature's `category_labels` (absent in older metadata: None)."""
    if raw is None:
        return None
    if (
        not isinstance(raw, Mapping)
        or sorted(raw) != sorted(categories or ())
        or not all(isinstance(w, str) and w.strip() for w in raw.values())
    ):
        raise ContractError(f"feature {name!r}: category_labels give each category its own words")
    return tuple(raw[c] for c in categories or ())  # distinct words: checked by Feature


def readable(code: str) -> str:
    """A category code as words, where no label was declared: `former_1_5y` -> `Former 1-5
    years`, `type_2` -> `Type 2` (underscores as spaces, `1_5` a range, `5y` years)."""
    words = re.sub(r"(\d)_(\d)", r"\1-\2", code).replace("_", " ")
    words = re.sub(
        r"\b(\d+(?:-\d+)?)y\b", lambda m: f"{m[1]} year{'' if m[1] == '1' else 's'}", words
    )
    return words[:1].upper() + words[1:]


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
