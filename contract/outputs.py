"""Output specifications: what a model's signature returns, and what is derived from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from contract.errors import ContractError

DerivationRule = Literal["argmax"]
# What a signature may return: numbers. Strings (a class name) are derived by the service.
NUMERIC_DTYPES = ("float32", "float64", "int64", "bool")


@dataclass(frozen=True)
class OutputSpec:
    """One output: name, dtype, shape ([-1] or [-1, k]) and the bounds its values keep.

    `labels` names the k entries of a [-1, k] output (the class names of probabilities);
    `values` lists the only values a string output takes. `row_sum` states what each record's
    entries add up to (1 for probabilities). The service checks all of these at warm-up.
    `tolerance` and `relative_tolerance` bound the difference allowed between the export
    formats (SavedModel and LiteRT) on the same record: |a - b| <= tolerance +
    relative_tolerance * |a|, as numpy.isclose; publication refuses a version beyond it. (Both
    compute in float32, so large values can only agree to a few parts in a million.)
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    description: str
    labels: tuple[str, ...] | None = None
    values: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    row_sum: float | None = None
    tolerance: float | None = None
    relative_tolerance: float | None = None

    @property
    def width(self) -> int | None:
        """Return k for a [-1, k] output, None for one value per record."""
        return self.shape[1] if len(self.shape) == 2 else None

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form, omitting keys that do not apply."""
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        out["description"] = self.description
        optional = {"labels": self.labels, "values": self.values}
        out |= {key: list(value) for key, value in optional.items() if value is not None}
        bounds = {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "row_sum": self.row_sum,
            "tolerance": self.tolerance,
            "relative_tolerance": self.relative_tolerance,
        }
        out |= {key: value for key, value in bounds.items() if value is not None}
        return out

    @classmethod
    def from_json(cls, raw: Any) -> OutputSpec:
        """Parse one entry of metadata.json's `outputs`."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ContractError(f"output {raw!r} is not an object with a name")
        name, shape = raw["name"], raw.get("shape")
        if raw.get("dtype") not in NUMERIC_DTYPES:
            raise ContractError(
                f"output {name!r}: dtype {raw.get('dtype')!r} is not one of {NUMERIC_DTYPES} "
                "(a class is declared as a derived output)"
            )
        if not (isinstance(shape, list) and shape[:1] == [-1] and len(shape) in (1, 2)) or (
            len(shape) == 2 and (type(shape[1]) is not int or shape[1] < 1)
        ):
            raise ContractError(f"output {name!r}: shape must be [-1] or [-1, k], got {shape!r}")
        for key in ("minimum", "maximum", "row_sum", "tolerance", "relative_tolerance"):
            if raw.get(key) is not None and type(raw[key]) not in (int, float):
                raise ContractError(f"output {name!r}: {key} must be a number")
        spec = cls(
            name=name,
            dtype=raw["dtype"],
            shape=tuple(shape),
            description=str(raw.get("description", "")),
            labels=_names(raw, "labels"),
            values=_names(raw, "values"),
            minimum=raw.get("minimum"),
            maximum=raw.get("maximum"),
            row_sum=raw.get("row_sum"),
            tolerance=raw.get("tolerance"),
            relative_tolerance=raw.get("relative_tolerance"),
        )
        if spec.labels is not None and len(spec.labels) != spec.width:
            raise ContractError(f"output {name!r}: {len(spec.labels)} labels for shape {shape}")
        return spec


@dataclass(frozen=True)
class DerivedOutput:
    """An output computed from a declared one, such as the predicted class from probabilities."""

    name: str
    source: str
    rule: DerivationRule
    description: str

    def spec(self, source: OutputSpec) -> OutputSpec:
        """Describe the derived output: one of the source's labels per record."""
        return OutputSpec(self.name, "string", (-1,), self.description, values=source.labels)

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form."""
        return {
            "name": self.name,
            "source": self.source,
            "rule": self.rule,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, raw: Any, outputs: tuple[OutputSpec, ...]) -> DerivedOutput:
        """Parse one entry of `derived_outputs`; its source must be a labelled declared output."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ContractError(f"derived output {raw!r} is not an object with a name")
        if raw.get("rule") != "argmax":
            raise ContractError(f"derived output {raw['name']!r}: unknown rule {raw.get('rule')!r}")
        source = next((o for o in outputs if o.name == raw.get("source")), None)
        if source is None or source.labels is None:
            raise ContractError(
                f"derived output {raw['name']!r}: source {raw.get('source')!r} is not a "
                "declared output with labels"
            )
        return cls(raw["name"], source.name, "argmax", str(raw.get("description", "")))


def _names(raw: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(f"output {raw['name']!r}: {key} must be a list of strings")
    return tuple(value)
