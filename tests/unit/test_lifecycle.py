"""Promote, roll back, list and verify: versions published again under the next number, sealed,
with their provenance, never half-done; what the service serves is the newest that verifies."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from contract import publication
from contract.artifact import read_artifact
from contract.card import model_card
from contract.features import Feature
from contract.metadata import ModelMetadata, Signature
from contract.outputs import OutputSpec
from policy.document import POLICY_NAME, read_policy
from policy.publish import DEFAULT_SOURCE
from policy.publish import publish as publish_policy
from service.repository import lifecycle
from service.repository.__main__ import main

FEATURES = (Feature("age", "integer", "years", "Age.", 18, 85),)
FAILED_GATE = {"passed": False, "failures": ["m: rmse MISSED"], "published_anyway": False}


def _publish(repository: Path, name: str, payload: str, gate: Any = None) -> Path:
    """A sealed version holding `payload` and a report titled with its number."""
    output = OutputSpec("score", "float32", (-1,), "A score.")
    metadata = ModelMetadata(
        name,
        "regression",
        "A model.",
        "2026-01-01T00:00:00Z",
        FEATURES,
        (output,),
        Signature.for_features(FEATURES),
        training={"seed": 1} | ({"gate": gate} if gate else {}),
    )
    staging = publication.staging_directory(repository, name)
    (staging / "model.bin").write_text(payload)

    def report(directory: Path, sealed: ModelMetadata) -> None:
        (directory / "report.md").write_text(f"# {name} — version {sealed.version}\n\nBody.\n")

    target, _ = publication.publish(staging, metadata, report)
    return target


def _payload(repository: Path, name: str, version: int) -> str:
    return (repository / name / str(version) / "model.bin").read_text()


def test_promotion_publishes_each_newest_version_under_the_next_number(tmp_path: Path) -> None:
    staging, served = tmp_path / "staging", tmp_path / "models"
    for name in ("a_model", "b_model"):
        _publish(served, name, "champion")
        _publish(staging, name, "old challenger")
        _publish(staging, name, "challenger")
    done = lifecycle.promote(staging, served, by="Ada")
    assert done == [("a_model", 2, 2), ("b_model", 2, 2)]
    for name in ("a_model", "b_model"):
        artifact = read_artifact(served / name / "2", name, 2)  # sealed and checksummed anew
        assert _payload(served, name, 2) == "challenger"
        (step,) = artifact.metadata.provenance
        assert step["action"] == "promote" and step["by"] == "Ada"
        assert step["source_repository"] == str(staging.resolve()) and step["source_version"] == 2
        report = (served / name / "2" / "report.md").read_text()
        assert report.startswith(f"# {name} — version 2\n")
        assert f"Promoted from version 2 of {staging.resolve()} by Ada" in report
        assert lifecycle.newest(served, name).version == 2
    # A client reading the card sees the source repository's name, never a path of the host.
    card = model_card(read_artifact(served / "a_model" / "2", "a_model", 2).metadata)
    assert card["provenance"][0]["source_repository"] == "staging"
    # The source is untouched and still verifies.
    assert read_artifact(staging / "a_model" / "2", "a_model", 2).metadata.provenance == ()


def test_a_tampered_source_is_refused_before_anything_is_published(tmp_path: Path) -> None:
    staging, served = tmp_path / "staging", tmp_path / "models"
    for name in ("a_model", "b_model"):
        _publish(served, name, "champion")
        _publish(staging, name, "challenger")
    (staging / "b_model" / "1" / "model.bin").write_text("altered")
    with pytest.raises(lifecycle.LifecycleError, match="b_model version 1 of .*model.bin"):
        lifecycle.promote(staging, served, by="Ada")
    assert sorted(p.name for p in (served / "a_model").iterdir()) == ["1"]  # a_model too


def test_a_version_that_failed_the_gate_is_promoted_only_when_told(tmp_path: Path) -> None:
    staging, served = tmp_path / "staging", tmp_path / "models"
    _publish(staging, "m", "below target", gate=FAILED_GATE)
    with pytest.raises(lifecycle.LifecycleError, match="failed the publication gate"):
        lifecycle.promote(staging, served, by="Ada")
    assert not (served / "m").exists() or not any((served / "m").iterdir())
    assert lifecycle.promote(staging, served, by="Ada", over_failed_gate=True) == [("m", 1, 1)]
    gate = read_artifact(served / "m" / "1", "m", 1).metadata.training["gate"]
    assert gate == {**FAILED_GATE, "published_anyway": True}


def test_rollback_publishes_the_previous_version_again(tmp_path: Path) -> None:
    served = tmp_path / "models"
    for payload in ("first", "second"):
        _publish(served, "m", payload)
    assert lifecycle.rollback(served, by="Ada") == [("m", 1, 3)]
    assert _payload(served, "m", 3) == "first"
    (step,) = read_artifact(served / "m" / "3", "m", 3).metadata.provenance
    assert (step["action"], step["source_version"]) == ("rollback", 1)
    assert lifecycle.rollback(served, by="Ada", only="m", to_version=2) == [("m", 2, 4)]
    assert _payload(served, "m", 4) == "second"
    with pytest.raises(lifecycle.LifecycleError, match="no version 9"):
        lifecycle.rollback(served, by="Ada", only="m", to_version=9)


def test_rollback_skips_a_refused_version_and_needs_an_earlier_one(tmp_path: Path) -> None:
    served = tmp_path / "models"
    for payload in ("good", "broken", "current"):
        _publish(served, "m", payload)
    (served / "m" / "2" / "model.bin").write_text("altered")
    assert [(s.version, s.state) for s in lifecycle.states(served, "m")] == [
        (3, "newest"),
        (2, "refused"),
        (1, "earlier"),
    ]
    assert lifecycle.rollback(served, by="Ada") == [("m", 1, 4)]
    lonely = tmp_path / "lonely"
    _publish(lonely, "m", "only")
    with pytest.raises(lifecycle.LifecycleError, match="no earlier version"):
        lifecycle.rollback(lonely, by="Ada")


def test_the_policy_is_promoted_and_rolled_back_as_its_own_versions(tmp_path: Path) -> None:
    staging, served = tmp_path / "staging", tmp_path / "models"
    publish_policy(DEFAULT_SOURCE, served)
    publish_policy(DEFAULT_SOURCE, staging)
    publish_policy(DEFAULT_SOURCE, staging)
    assert lifecycle.promote(staging, served, by="Ada") == [(POLICY_NAME, 2, 2)]
    assert lifecycle.rollback(served, by="Ada", only=POLICY_NAME) == [(POLICY_NAME, 1, 3)]
    policy = read_policy(served / POLICY_NAME / "3", 3)
    assert policy.rules_digest == read_policy(served / POLICY_NAME / "1", 1).rules_digest


def test_the_command_lists_verifies_and_refuses_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served, staging = tmp_path / "models", tmp_path / "staging"
    _publish(served, "m", "first")
    _publish(staging, "m", "second", gate={"passed": True, "failures": []})
    assert (
        main(["promote", "--from", str(staging), "--models-dir", str(served), "--by", "Ada"]) == 0
    )
    assert "m: version 2 published (promoted from" in capsys.readouterr().out
    assert main(["list", "--models-dir", str(served)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split()[:3] == ["m", "2", "newest"] and "gate passed" in listed[1]
    assert listed[2].split()[:3] == ["m", "1", "earlier"]
    assert main(["verify", "--models-dir", str(served)]) == 0
    (served / "m" / "1" / "model.bin").write_text("altered")
    assert main(["verify", "--models-dir", str(served)]) == 2
    assert "m version 1: REFUSED" in capsys.readouterr().out
    assert main(["rollback", "--models-dir", str(served)]) == 2
    assert "no earlier version that verifies" in capsys.readouterr().err
    metadata = json.loads((served / "m" / "2" / "metadata.json").read_text())
    assert dataclasses.asdict(ModelMetadata.from_json(metadata))["provenance"][0]["by"] == "Ada"


def test_the_set_aside_repository_is_never_the_served_one(tmp_path: Path) -> None:
    from training.__main__ import parse_args
    from training.options import set_aside_for

    assert set_aside_for(Path(".")) == Path.cwd().parent / f"{Path.cwd().name}-set-aside"
    for inside in (tmp_path / "models", tmp_path / "models" / "aside"):
        with pytest.raises(SystemExit):
            parse_args(["--models-dir", str(tmp_path / "models"), "--set-aside-dir", str(inside)])
