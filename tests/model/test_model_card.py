"""The model card endpoint against the artifact it comes from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract.card import RULES_DIGEST


def artifact(models_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((models_dir / name / "1" / "metadata.json").read_text())


@pytest.mark.parametrize("name", ["risk_class", "max_coverage"])
def test_the_card_is_the_artifact_s(client: Any, service_models_dir: Path, name: str) -> None:
    metadata = artifact(service_models_dir, name)
    response = client.get(f"/v1/models/{name}/versions/1/card")
    assert response.status_code == 200 and response.mimetype == "application/json"
    card = response.get_json()
    assert card["model"] == {
        "name": name,
        "version": 1,
        "task": metadata["task"],
        "description": metadata["description"],
        "created_at": metadata["created_at"],
    }
    assert card["intended_use"] == metadata["intended_use"]
    assert card["limitations"][: len(metadata["limitations"])] == metadata["limitations"]
    assert "Trained and evaluated on synthetic applicants" in " ".join(card["limitations"])
    assert [i["name"] for i in card["inputs"]] == [f["name"] for f in metadata["features"]]
    reads = set(metadata.get("inputs") or [f["name"] for f in metadata["features"]])
    assert {i["name"] for i in card["inputs"] if i["read_by_model"]} == reads
    assert card["training_data"]["fingerprint"] == metadata["training"]["data"]["fingerprint"]
    judged = metadata["metrics"]["fresh"]
    first = card["evaluation"]["metrics"][0]
    assert card["evaluation"]["split"] == "fresh" and card["evaluation"]["rows"] == judged["rows"]
    assert first["model"] == judged[first["metric"]]
    assert first["bayes_optimum"] == judged["bayes_" + first["metric"]]
    assert first["baseline"] == judged["baseline_" + first["metric"]]
    assert card["monotonicity"] == metadata["metrics"]["audit"]
    assert card["fairness"] == metadata["metrics"]["fairness"] and card["fairness"]["ran"]
    assert card["owner"] is None and card["validation_date"] is None
    assert "No independent validation is recorded for this version." in card["limitations"]
    # Validated under the shipped policy, which is also the one serving: the same rules.
    policy = card["decision_policy"]
    assert policy["serving"]["name"] == "underwriting_policy"
    if name == "risk_class":
        assert policy["validated_with"][RULES_DIGEST] == policy["serving"][RULES_DIGEST]
        assert policy["same_rules"] is True
        assert (
            card["explanations"]["complete_share"]
            == metadata["explain"]["checks"]["complete_share"]
        )


def test_the_card_renders_as_markdown(client: Any, service_models_dir: Path) -> None:
    metadata = artifact(service_models_dir, "risk_class")
    for response in (
        client.get("/v1/models/risk_class/card?format=markdown"),
        client.get("/v1/models/risk_class/card", headers={"Accept": "text/markdown"}),
    ):
        assert response.status_code == 200 and response.mimetype == "text/markdown"
        text = response.get_data(as_text=True)
        assert text.startswith("# Model card: risk_class version 1")
        for section in (
            "## Intended use",
            "## Inputs",
            "## Outputs",
            "## Training data",
            "## Evaluation",
            "## Monotonicity",
            "## Fairness",
            "## Decision policy",
            "## Reasons",
            "## Limitations",
        ):
            assert section in text, section
        assert metadata["training"]["data"]["fingerprint"] in text
        refused = text.split("Refused by name in any request: ")[1].split(".")[0].split(", ")
        prohibited = metadata["prohibited_fields"]
        assert refused == prohibited["protected"] + prohibited["identifiers"]
        assert "(the same rules)" in text
        # Categories in the declared words beside their codes (the JSON card: codes alone).
        assert "| diabetes | category | medical | yes | None (`none`), Type 1 (`type_1`), " in text
        for feature in metadata["features"]:
            for code, words in feature.get("category_labels", {}).items():
                assert f"{words} (`{code}`)" in text
    json_again = client.get("/v1/models/risk_class/card", headers={"Accept": "application/json"})
    assert json_again.mimetype == "application/json"
    diabetes = next(i for i in json_again.get_json()["inputs"] if i["name"] == "diabetes")
    assert diabetes["categories"] == ["none", "type_1", "type_2"]
    assert "category_labels" not in diabetes


def test_a_composite_card_holds_its_models_cards(client: Any) -> None:
    card = client.get("/v1/models/underwriting/card").get_json()
    assert card["name"] == "underwriting"
    assert [c["model"]["name"] for c in card["models"]] == ["risk_class", "max_coverage"]
    text = client.get("/v1/models/underwriting/card?format=markdown").get_data(as_text=True)
    assert text.count("# Model card: ") == 2


def test_card_errors_name_the_problem(client: Any) -> None:
    bad = client.get("/v1/models/risk_class/card?format=pdf")
    assert bad.status_code == 400
    assert bad.get_json()["details"] == {"format": ["Must be one of: json, markdown."]}
    assert client.get("/v1/models/nobody/card").status_code == 404
    missing = client.get("/v1/models/risk_class/versions/9/card")
    assert missing.status_code == 404 and missing.get_json()["error"]
    assert client.get("/v1/models/underwriting_policy/card").status_code == 404
