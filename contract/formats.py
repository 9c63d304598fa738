"""Older metadata.json formats, read as the current one, so published versions stay servable.

Format 1 (before outputs were declared in full) named the classifier's class order in
`class_names` and left the rest to a convention the service applied: the [-1, k] output is the
class probabilities, the predicted class is derived from it as `risk_class`, and a regression
output is never negative. Format 2 declares all of that; `upgrade` writes it in.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

CURRENT_FORMAT = 2
FORMAT_1_CLASS_OUTPUT = "risk_class"  # what format 1's service derived for every classifier


def upgrade(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the metadata in the current format (unchanged if it already is, or unknown)."""
    if raw.get("format_version") != 1:
        return raw
    upgraded = copy.deepcopy(dict(raw))
    upgraded["format_version"] = CURRENT_FORMAT
    outputs = upgraded.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        return upgraded  # let the current format's checks say what is wrong
    class_names = upgraded.get("class_names")
    derived = []
    for output in outputs:
        shape = output.get("shape")
        if isinstance(class_names, list) and shape == [-1, len(class_names)]:
            output |= {"labels": class_names, "minimum": 0.0, "maximum": 1.0, "row_sum": 1.0}
            derived.append(
                {
                    "name": FORMAT_1_CLASS_OUTPUT,
                    "source": output.get("name"),
                    "rule": "argmax",
                    "description": "The most probable class.",
                }
            )
        elif upgraded.get("task") == "regression":
            output.setdefault("minimum", 0.0)
    upgraded.setdefault("derived_outputs", derived)
    return upgraded
