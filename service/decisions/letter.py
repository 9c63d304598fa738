"""Render an applicant's notice of an adverse decision from a stored decision record.

Everything in the letter comes from the record (outcome, reasons in rank order with the
applicant's own values, rules that fired, versions, fingerprint) and from the feature
declaration of the model version it names (descriptions, units, the categories' words), so the
letter can be produced again, years later, exactly as the decision was made. The applicant reads
words: a category is shown by its label (`Type 2`), never by its code (`type_2`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.checksums import METADATA_FILE
from contract.errors import ContractError
from contract.features import Feature, readable

OUTCOMES = {
    "decline": "We are unable to offer you coverage at this time.",
    "refer": "Your application has been referred to an underwriter, who will contact you.",
    "accept": "We can offer you coverage at a rated ({risk_class}) premium class, not the "
    "standard class.",
}
NOTICE = (
    "You may ask us, within 90 business days of this notice, for the specific items of "
    "information behind these reasons and for the names of any sources that supplied them, and "
    "you may ask us to correct information you believe is wrong."
)


Labels = Mapping[str, Feature]  # the recorded version's declaration, by feature name


class NotAdverse(ValueError):
    """A standard acceptance: no adverse-action notice is owed."""


def labels(models_dir: Path, model: str, version: int) -> dict[str, Feature]:
    """The features (descriptions, units, the categories' words) as the recorded version
    declared them; none if its declaration cannot be read (the letter then names features by
    their field names)."""
    path = models_dir / model / str(version) / METADATA_FILE
    try:
        declared = json.loads(path.read_text(encoding="utf-8"))["features"]
        return {f.name: f for f in map(Feature.from_json, declared)}
    except (OSError, ValueError, KeyError, TypeError, ContractError):
        return {}


def _item(name: str, value: Any, known: Labels) -> str:
    """One item of the application as the applicant gave it: `Measured weight: 92 kg`,
    `Diagnosed diabetes: Type 2` (a category in words, never its code)."""
    feature = known.get(name)
    what = (feature.description or name).rstrip(".") if feature else name.replace("_", " ")
    unit = feature.unit if feature else ""
    if isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, str):
        shown = feature.label(value) if feature else readable(value)
    else:
        number = int(value) if isinstance(value, float) and value.is_integer() else value
        shown = f"{number}{unit}" if unit == "%" else f"{number} {unit}".strip()
    return f"{what}: {shown}"


def render(record: Mapping[str, Any], known: Labels) -> str:
    """The letter for one stored decision (adverse: anything but a standard acceptance)."""
    decision = record["decision"]
    if decision["outcome"] == "accept" and not decision.get("reasons"):
        raise NotAdverse(f"decision {record['sequence']} is an acceptance with no reasons")
    outcome = OUTCOMES[decision["outcome"]].format(risk_class=decision["risk_class"])
    if decision["outcome"] == "accept" and decision.get("offer") is not None:
        outcome += f" The coverage we can offer is up to ${decision['offer']:,.0f}."
    lines = [
        "NOTICE OF UNDERWRITING DECISION",
        "",
        f"Reference: {record['request_id']} (record {record['index']})",
        f"Date of decision: {record['decided_at']}",
        "",
        outcome,
        "",
    ]
    reasons = decision.get("reasons") or []
    if reasons:
        lines.append("The principal reasons for this decision, most important first:")
        for rank, reason in enumerate(reasons, 1):
            items = [(reason["feature"], reason["value"]), *(reason.get("related") or {}).items()]
            given = "; ".join(_item(name, value, known) for name, value in items)
            lines.append(
                f"  {rank}. {reason['text']} ({reason['code']}). Your application: {given}."
            )
        lines.append("")
    referrals = [r for r in decision.get("rules", []) if r["rule"] != "knock_out"]
    if referrals:
        lines.append("Why an underwriter will review it:")
        lines += [f"  - {rule['text']} ({rule['code']})." for rule in referrals]
        lines.append("")
    versions = ", ".join(f"{name} v{v}" for name, v in sorted(record["model_versions"].items()))
    lines += [
        NOTICE,
        "",
        f"Decided by: {versions}. Application fingerprint (sha256): {record['fingerprint']}.",
        f"Decision record {record['sequence']}, chain hash {record['hash']}.",
    ]
    return "\n".join(lines) + "\n"
