"""Versioned, atomic publication into the model repository, sealed through the contract."""

from __future__ import annotations

import json
from pathlib import Path

from contract import publication as publish
from contract.checksums import metadata_digest, sha256_file
from contract.features import Feature
from contract.metadata import ModelMetadata, Signature
from contract.outputs import OutputSpec

FEATURES = (Feature("age", "integer", "years", "Age.", 18, 85),)


def _metadata(name: str) -> ModelMetadata:
    output = OutputSpec("score", "float32", (-1,), "A score.")
    return ModelMetadata(
        name,
        "regression",
        "A model.",
        "2026-01-01T00:00:00Z",
        FEATURES,
        (output,),
        Signature.for_features(FEATURES),
    )


def _stage(models_dir: Path, name: str, payload: str) -> Path:
    staging = publish.staging_directory(models_dir, name)
    (staging / "model.bin").write_text(payload)
    return staging


def test_versions_count_up_from_the_highest_present(tmp_path: Path) -> None:
    (tmp_path / "risk_class" / "5").mkdir(parents=True)
    (tmp_path / "risk_class" / "notes").mkdir()
    (tmp_path / "risk_class" / "²").mkdir()  # a digit to str.isdigit(), not a version
    first, _ = publish.publish(_stage(tmp_path, "risk_class", "a"), _metadata("risk_class"))
    second, sealed = publish.publish(_stage(tmp_path, "risk_class", "b"), _metadata("risk_class"))
    assert (first.name, second.name) == ("6", "7")
    assert json.loads((second / "metadata.json").read_text())["version"] == 7 == sealed.version


def test_staging_is_hidden_until_renamed_and_leaves_nothing_behind(tmp_path: Path) -> None:
    staging = _stage(tmp_path, "max_coverage", "x")
    assert staging.name.startswith(".tmp-")
    assert publish.existing_versions(tmp_path / "max_coverage") == []
    target, _ = publish.publish(staging, _metadata("max_coverage"))
    assert not staging.exists()
    assert [p.name for p in (tmp_path / "max_coverage").iterdir()] == [target.name]


def test_metadata_records_checksums_and_files_written_at_publication(tmp_path: Path) -> None:
    def write_report(directory: Path, metadata: ModelMetadata) -> None:
        (directory / "report.md").write_text(f"version {metadata.version}\n")

    target, sealed = publish.publish(_stage(tmp_path, "m", "payload"), _metadata("m"), write_report)
    metadata = json.loads((target / "metadata.json").read_text())
    assert (target / "report.md").read_text() == "version 1\n"
    assert (
        metadata["files"]
        == dict(sealed.files)
        == {
            "model.bin": sha256_file(target / "model.bin"),
            "report.md": sha256_file(target / "report.md"),
        }
    )
    assert metadata["metadata_sha256"] == metadata_digest(metadata)
