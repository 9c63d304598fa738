"""The model card of a published version: built from its metadata, as JSON and as Markdown.

Everything on the card comes from the artifact (the training run wrote it once); the service
adds only which decision policy is serving, so the card can say whether the model was validated
under the rules that decide today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from contract.features import Feature
from contract.metadata import ModelMetadata

RULES_DIGEST = "rules_sha256"  # metrics.policy: the rules the decision mix was measured under
_EVALUATED = {
    "classification": (
        ("log_loss", "bayes_log_loss", "baseline_log_loss"),
        ("accuracy", "bayes_accuracy", "baseline_accuracy"),
        ("macro_f1", None, None),
        ("ece", None, None),
    ),
    "regression": (
        ("rmse", "bayes_rmse", "baseline_rmse"),
        ("mae", None, None),
        ("r2", None, None),
    ),
}


def model_card(
    metadata: ModelMetadata, serving_policy: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The card of one version; `serving_policy` (name, version, rules_sha256) if one decides."""
    training = metadata.training
    data = training.get("data", {})
    return {
        "model": {
            "name": metadata.name,
            "version": metadata.version,
            "task": metadata.task,
            "description": metadata.description,
            "created_at": metadata.created_at,
        },
        "owner": training.get("owner"),
        "validation_date": training.get("validation_date"),
        "publication_gate": training.get("gate"),  # None: published before the gate existed
        # The source repository by its name: the service never shows clients its file paths.
        "provenance": [
            {**step, "source_repository": PurePath(str(step["source_repository"])).name}
            for step in metadata.provenance
        ],
        "intended_use": metadata.intended_use or None,
        "inputs": [_input(f.to_json(), f.name in metadata.reads()) for f in metadata.features],
        "prohibited_fields": metadata.prohibited.to_json(),
        "outputs": [{"name": o.name, "description": o.description} for o in metadata.outputs]
        + [{"name": s.name, "description": s.description} for s in metadata.derived_specs()],
        "training_data": {
            "source": data.get("source"),
            "fingerprint": data.get("fingerprint"),
            "rows": training.get("rows"),
            "seed": training.get("seed"),
        },
        "evaluation": _evaluation(metadata),
        "monotonicity": metadata.metrics.get("audit"),
        "fairness": metadata.metrics.get("fairness"),
        "explanations": None if metadata.explain is None else dict(metadata.explain.checks),
        "decision_policy": _policy(metadata.metrics.get("policy"), serving_policy),
        "limitations": list(metadata.limitations) + _derived_limitations(metadata),
    }


def _input(declared: dict[str, Any], read: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        k: declared[k] for k in ("name", "type", "role", "description") if k in declared
    }
    for key in ("minimum", "maximum", "categories", "unit"):
        if declared.get(key) is not None:
            entry[key] = declared[key]
    if "risk" in declared:
        entry["risk"] = declared["risk"]
    entry["read_by_model"] = read
    return entry


def _evaluation(metadata: ModelMetadata) -> dict[str, Any]:
    """The judged split (fresh applicants when the data is synthetic, else the test split)."""
    split = "fresh" if "fresh" in metadata.metrics else "test"
    measured = metadata.metrics.get(split, {})
    rows = []
    for metric, bayes, baseline in _EVALUATED.get(metadata.task, ()):
        if metric in measured:
            rows.append(
                {
                    "metric": metric,
                    "model": measured[metric],
                    "bayes_optimum": measured.get(bayes) if bayes else None,
                    "baseline": measured.get(baseline) if baseline else None,
                }
            )
    return {"split": split, "rows": measured.get("rows"), "metrics": rows}


def _policy(measured: Any, serving: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(measured, Mapping) and serving is None:
        return None
    validated = None
    if isinstance(measured, Mapping):
        validated = {
            "source": measured.get("source"),
            RULES_DIGEST: measured.get(RULES_DIGEST),
            "straight_through_rate": measured.get("straight_through_rate"),
            "acceptance_rate": measured.get("acceptance_rate"),
            "outcomes": measured.get("outcomes"),
        }
    same = None
    if validated is not None and serving is not None and validated[RULES_DIGEST]:
        same = validated[RULES_DIGEST] == serving.get(RULES_DIGEST)
    return {
        "validated_with": validated,
        "serving": dict(serving) if serving else None,
        "same_rules": same,
    }


def _derived_limitations(metadata: ModelMetadata) -> list[str]:
    """What the artifact's own facts limit: synthetic data, untested or flagged fairness."""
    found = []
    if metadata.training.get("data", {}).get("source") == "synthetic":
        found.append(
            "Trained and evaluated on synthetic applicants: validate it on the "
            "insurer's own book before it decides real applications."
        )
    fairness = metadata.metrics.get("fairness")
    if isinstance(fairness, Mapping) and not fairness.get("ran"):
        found.append(f"Fairness not tested: {fairness.get('reason')}.")
    elif isinstance(fairness, Mapping) and fairness.get("flagged_groups"):
        found.append(
            "Fairness flags for "
            + ", ".join(fairness["flagged_groups"])
            + ": see the fairness section before use."
        )
    gate = metadata.training.get("gate")
    if isinstance(gate, Mapping) and gate.get("published_anyway"):
        found.append(
            "Published over a failed publication gate: " + "; ".join(gate.get("failures", []))
        )
    if not metadata.training.get("validation_date"):
        found.append("No independent validation is recorded for this version.")
    return found


# --------------------------------------------------------------------------- Markdown


def _gate(gate: Any) -> str:
    if not isinstance(gate, Mapping):
        return "not recorded"
    if gate.get("passed"):
        return "passed"
    verdict = "published anyway" if gate.get("published_anyway") else "not published"
    return f"FAILED, {verdict} ({len(gate.get('failures', []))} checks missed)"


def _step(step: Mapping[str, Any]) -> str:
    action = "Promoted" if step["action"] == "promote" else "Rolled back to"
    return (
        f"{action} version {step['source_version']} of {step['source_repository']} "
        f"by {step['by']} at {step['at']}"
    )


def card_markdown(card: Mapping[str, Any], features: Sequence[Feature] = ()) -> str:
    """The card as Markdown, section by section; the declared `features` give each category
    its words beside its code (the JSON card keeps the codes alone, as the API speaks)."""
    model = card["model"]
    declared = {f.name: f for f in features}
    lines = [
        f"# Model card: {model['name']} version {model['version']}",
        "",
        model["description"],
        "",
        f"- Task: {model['task']}; created {model['created_at']}",
        f"- Owner: {card['owner'] or 'not recorded'}",
        f"- Independent validation: {card['validation_date'] or 'not recorded'}",
        f"- Publication gate: {_gate(card.get('publication_gate'))}",
        *[f"- {_step(step)}" for step in card.get("provenance", [])],
        "",
    ]
    if card["intended_use"]:
        lines += ["## Intended use", "", card["intended_use"], ""]
    lines += [
        "## Inputs",
        "",
        *_table(
            ["feature", "type", "role", "read", "range or values"],
            [
                [
                    i["name"],
                    i["type"],
                    i.get("role", ""),
                    "yes" if i["read_by_model"] else "no",
                    _range(i, declared.get(i["name"])),
                ]
                for i in card["inputs"]
            ],
        ),
        "",
    ]
    prohibited = card["prohibited_fields"]
    refused = [*prohibited.get("protected", []), *prohibited.get("identifiers", [])]
    lines += [f"Refused by name in any request: {', '.join(refused)}.", ""]
    lines += [
        "## Outputs",
        "",
        *_table(["output", "meaning"], [[o["name"], o["description"]] for o in card["outputs"]]),
        "",
    ]
    data = card["training_data"]
    rows = data.get("rows") or {}
    lines += [
        "## Training data",
        "",
        f"{data['source']} data, fingerprint `{data['fingerprint']}`"
        f", seed {data['seed']}; rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()) + ".",
        "",
    ]
    lines += evaluation_markdown(card["evaluation"])
    lines += monotonicity_markdown(card["monotonicity"])
    lines += fairness_markdown(card["fairness"])
    lines += _policy_markdown(card["decision_policy"])
    if card["explanations"]:
        checks = card["explanations"]
        lines += [
            "## Reasons",
            "",
            f"Attributions complete on {checks.get('complete_share', 0):.2%}"
            f" of adverse applicants; faithful on {checks.get('faithful_share', 0):.2%}.",
            "",
        ]
    lines += ["## Limitations", "", *[f"- {item}" for item in card["limitations"]], ""]
    return "\n".join(lines)


def evaluation_markdown(evaluation: Mapping[str, Any]) -> list[str]:
    rows = [
        [m["metric"], _number(m["model"]), _number(m["bayes_optimum"]), _number(m["baseline"])]
        for m in evaluation["metrics"]
    ]
    return [
        "## Evaluation",
        "",
        f"On the {evaluation['split']} split ({evaluation['rows'] or 0:,}"
        " applicants), beside the Bayes optimum (synthetic data only) and a gradient-boosting "
        "baseline:",
        "",
        *_table(["metric", "model", "Bayes optimum", "baseline"], rows),
        "",
    ]


def monotonicity_markdown(audit: Mapping[str, Any] | None) -> list[str]:
    if not audit:
        return []
    factors = audit.get("risk_factors", {})
    rows = []
    for name, found in factors.items():
        worst = {k: v for k, v in found.items() if k.startswith("worst_")}
        rows.append(
            [
                name,
                f"{found.get('pairs', 0):,}",
                ", ".join(f"{k.removeprefix('worst_')} {v:g}" for k, v in worst.items()),
            ]
        )
    money = audit.get("money", {})
    lines = [
        "## Monotonicity",
        "",
        "Paired applicants differing in one risk factor, worse in "
        "the second: the largest move against underwriting sense (0 = never).",
        "",
        *_table(["risk factor", "pairs", "worst move"], rows),
        "",
    ]
    if money:
        largest = max(float(m.get("largest_probability_change", 0)) for m in money.values())
        lines += [
            f"Money never decides the class: the largest change of a class probability "
            f"when only {', '.join(money)} changed is {largest:g}.",
            "",
        ]
    return lines


def fairness_markdown(fairness: Mapping[str, Any] | None) -> list[str]:
    """The fairness section (model card and training report)."""
    if not fairness:
        return []
    lines = ["## Fairness", ""]
    if not fairness.get("ran"):
        return [*lines, f"The fairness tests could not run: {fairness.get('reason')}.", ""]
    groups = fairness["groups"]
    column, reference = fairness["column"], fairness["reference_group"]
    if "flagged_groups" not in fairness:  # the regressor: coverage by group
        rows = [
            [
                g,
                f"{f['rows']:,}",
                f"${f['mean_coverage']:,.0f}",
                f"{f['standardized_mean_difference']:+.3f}",
            ]
            for g, f in groups.items()
        ]
        return [
            *lines,
            f"Predicted coverage on the test split by `{column}` (standardized mean "
            f"difference against {reference}; reported, not a flag: coverage follows "
            "income by design).",
            "",
            *_table(["group", "applicants", "mean coverage", "SMD"], rows),
            "",
        ]
    limits = fairness["thresholds"]
    rows = [
        [
            g,
            f"{f['rows']:,}",
            f"{f['acceptance_rate']:.1%}",
            f"{f['adverse_impact_ratio']:.3f}",
            "" if g == reference else f"{f['p_value']:.3g}",
            "" if g == reference else f"{f['adjusted_gap'] * 100:+.1f} pt",
            "FLAG" if f["air_flagged"] or f["test_flagged"] else "ok",
        ]
        for g, f in groups.items()
    ]
    excluded = fairness.get("excluded_groups") or {}
    rows += [[g, f"{n:,}", "", "", "", "", "too few to test"] for g, n in excluded.items()]
    controls = ", ".join(fairness["controls"]) or "none"
    flagged = ", ".join(fairness["flagged_groups"]) or "none"
    return [
        *lines,
        f"Acceptance on the test split by `{column}` (reference: {reference}, the "
        f"most accepted). Adverse impact ratio flagged under "
        f"{limits['adverse_impact_ratio']}; logistic regression of acceptance on the group "
        f"with controls ({controls}), flagged when p < {limits['p_value']} and the adjusted "
        f"gap is {limits['adjusted_gap'] * 100:g} points or more (the mean change in predicted "
        f"acceptance were its members in the reference group). Flagged: {flagged}.",
        "",
        *_table(["group", "applicants", "accepted", "AIR", "p", "adjusted gap", "verdict"], rows),
        "",
    ]


def _policy_markdown(policy: Mapping[str, Any] | None) -> list[str]:
    if not policy:
        return []
    lines = ["## Decision policy", ""]
    validated = policy["validated_with"]
    if validated:
        lines.append(
            f"- Validated under `{validated['source']}` (rules "
            f"`{str(validated[RULES_DIGEST])[:12]}`): straight-through "
            f"{validated['straight_through_rate']:.1%}, accepted "
            f"{validated['acceptance_rate']:.1%} on the test split."
        )
    serving = policy["serving"]
    if serving:
        verdict = {
            True: "the same rules",
            False: "different rules: revalidate before relying on the figures above",
            None: "rules not comparable",
        }[policy["same_rules"]]
        lines.append(f"- Serving: {serving['name']} version {serving['version']} ({verdict}).")
    return [*lines, ""]


def _range(entry: Mapping[str, Any], feature: Feature | None) -> str:
    if entry.get("type") == "boolean":
        return "false, true"
    if "categories" in entry and feature is not None:
        return ", ".join(f"{feature.label(code)} (`{code}`)" for code in entry["categories"])
    if "categories" in entry:
        return ", ".join(entry["categories"])
    if "minimum" in entry or "maximum" in entry:
        return f"{_number(entry.get('minimum'))} to {_number(entry.get('maximum'))}"
    return ""


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]
