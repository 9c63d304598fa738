"""Render an applicant's notice of an adverse decision from a stored decision record.

Everything in the letter comes from the record (outcome, reasons in rank order with the
applicant's own values, rules that fired, versions, fingerprint) and from the feature
declaration of the model version it names (units), so the letter can be produced again, years
later, exactly as the decision was made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.checksums import METADATA_FILE

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


Labels = Mapping[str, tuple[str, str]]  # feature -> (what it is, its unit)


class NotAdverse(ValueError):
    """A standard acceptance: no adverse-action notice is owed."""


def labels(models_dir: Path, model: str, version: int) -> dict[str, tuple[str, str]]:
    """Each feature's description and unit, as the recorded model version declared them."""
    path = models_dir / model / str(version) / METADATA_FILE
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {
        str(f["name"]): (str(f.get("description", f["name"])).rstrip("."), str(f.get("unit", "")))
        for f in features
    }


def _item(name: str, value: Any, known: Labels) -> str:
    """One item of the application as the applicant gave it: `Measured weight: 92 kg`."""
    label, unit = known.get(name, (name.replace("_", " "), ""))
    if isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, str):
        shown = value  # the category exactly as recorded
    else:
        number = int(value) if isinstance(value, float) and value.is_integer() else value
        shown = f"{number}{unit}" if unit == "%" else f"{number} {unit}".strip()
    return f"{label}: {shown}"


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
