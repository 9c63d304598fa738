"""The feature declaration as a file: what an applicant record holds, read by training.

TOML, because Python reads it without a dependency (tomllib), it holds comments (the reasons
behind a range or a reference value belong beside it), and its values have the types written
(YAML would read `no` as false and `1_5y` as text only by luck). Each `[[features]]` table is
one feature in the metadata.json form (contract.features); `[prohibited]` lists the protected
attributes and identifiers no record may carry. Every entry is checked as the service checks
metadata, more strictly: an unknown or missing key, a repeated name, a range upside down or an
integer bound that is not whole is refused, naming the file, the entry and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.errors import ContractError
from contract.features import Feature, ProhibitedFields

DEFAULT_DECLARATION = Path(__file__).with_name("declarations") / "applicants.toml"

_FEATURE_KEYS = {
    "name",
    "type",
    "unit",
    "description",
    "minimum",
    "maximum",
    "categories",
    "category_labels",
    "role",
    "risk",
}
_REQUIRED_KEYS = ("name", "type", "description", "role")
_RISK_KEYS = {"worse", "order", "where", "reason", "reference"}
_WHERE_KEYS = {"measure", "at_least"}
_PROHIBITED_KEYS = {"protected", "identifiers"}


class DeclarationError(ValueError):
    """A declaration file that cannot be used; the message names the file, entry and key."""


@dataclass(frozen=True)
class Declaration:
    """The features of an applicant record, in packing order, and the fields it must not hold."""

    features: tuple[Feature, ...]
    prohibited: ProhibitedFields


def load_declaration(path: Path) -> Declaration:
    """Read and check a declaration file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{path}: not valid TOML: {exc}") from None
    return parse_declaration(raw, str(path))


def parse_declaration(raw: dict[str, Any], source: str) -> Declaration:
    """Check a parsed declaration; `source` names it in errors."""
    _no_unknown(raw, {"features", "prohibited"}, source)
    entries = raw.get("features")
    if not isinstance(entries, list) or not entries:
        raise DeclarationError(f"{source}: no [[features]] declared")
    features = tuple(_feature(entry, index, source) for index, entry in enumerate(entries))
    seen: set[str] = set()
    for index, feature in enumerate(features):
        if feature.name in seen:
            raise DeclarationError(f"{source}: features[{index}] repeats the name {feature.name!r}")
        seen.add(feature.name)
    prohibited = _prohibited(raw.get("prohibited", {}), source)
    for feature in features:
        if kind := prohibited.kind(feature.name):
            raise DeclarationError(
                f"{source}: feature {feature.name!r} is listed as a {kind} "
                "under [prohibited]: it cannot be a feature"
            )
    return Declaration(features, prohibited)


def _feature(entry: Any, index: int, source: str) -> Feature:
    where = f"{source}: features[{index}]"
    if not isinstance(entry, dict):
        raise DeclarationError(f"{where} is not a table")
    if isinstance(entry.get("name"), str):
        where += f" ({entry['name']!r})"
    _no_unknown(entry, _FEATURE_KEYS, where)
    missing = [key for key in _REQUIRED_KEYS if key not in entry]
    if missing:
        raise DeclarationError(f"{where}: missing {', '.join(missing)}")
    for key in ("name", "unit", "description"):
        if key in entry and not isinstance(entry[key], str):
            raise DeclarationError(f"{where}: {key} must be text")
    risk = entry.get("risk")
    if risk is not None:
        if not isinstance(risk, dict):
            raise DeclarationError(f"{where}: risk must be a table")
        _no_unknown(risk, _RISK_KEYS, f"{where}: risk")
        if isinstance(risk.get("where"), dict):
            _no_unknown(risk["where"], _WHERE_KEYS, f"{where}: risk.where")
    try:
        feature = Feature.from_json(entry)
    except ContractError as exc:
        raise DeclarationError(f"{where}: {exc}") from None
    _check_range(feature, where)
    return feature


def _check_range(feature: Feature, where: str) -> None:
    numeric = feature.type in ("integer", "number")
    if not numeric and (feature.minimum is not None or feature.maximum is not None):
        raise DeclarationError(f"{where}: only numbers have a minimum and a maximum")
    if numeric and (feature.minimum is None or feature.maximum is None):
        raise DeclarationError(f"{where}: a number needs its minimum and maximum")
    if numeric and feature.minimum is not None and feature.maximum is not None:
        if feature.minimum >= feature.maximum:
            raise DeclarationError(f"{where}: minimum must be below maximum")
        if feature.type == "integer" and not all(
            isinstance(bound, int) for bound in (feature.minimum, feature.maximum)
        ):
            raise DeclarationError(f"{where}: an integer's minimum and maximum are whole numbers")


def _prohibited(raw: Any, source: str) -> ProhibitedFields:
    if not isinstance(raw, dict):
        raise DeclarationError(f"{source}: [prohibited] must be a table")
    _no_unknown(raw, _PROHIBITED_KEYS, f"{source}: [prohibited]")
    try:
        return ProhibitedFields.from_json(
            {"protected": raw.get("protected", []), "identifiers": raw.get("identifiers", [])}
        )
    except ContractError as exc:
        raise DeclarationError(f"{source}: [prohibited]: {exc}") from None


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        named, expected = ", ".join(map(repr, unknown)), ", ".join(sorted(known))
        raise DeclarationError(f"{where}: unknown key {named} (known: {expected})")
