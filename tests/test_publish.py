"""Versioned, atomic publication into the model repository."""

from __future__ import annotations

import json
from pathlib import Path

from training import publish


def _stage(models_dir: Path, name: str, payload: str) -> Path:
    staging = publish.staging_directory(models_dir, name)
    (staging / "model.bin").write_text(payload)
    return staging


def test_versions_count_up_from_the_highest_present(tmp_path: Path) -> None:
    (tmp_path / "risk_class" / "5").mkdir(parents=True)
    (tmp_path / "risk_class" / "notes").mkdir()
    first = publish.publish(_stage(tmp_path, "risk_class", "a"), {"name": "risk_class"})
    second = publish.publish(_stage(tmp_path, "risk_class", "b"), {"name": "risk_class"})
    assert (first.name, second.name) == ("6", "7")
    assert json.loads((second / "metadata.json").read_text())["version"] == 7


def test_staging_is_hidden_until_renamed_and_leaves_nothing_behind(tmp_path: Path) -> None:
    staging = _stage(tmp_path, "max_coverage", "x")
    assert staging.name.startswith(".tmp-")
    assert publish.existing_versions(tmp_path / "max_coverage") == []
    target = publish.publish(staging, {"name": "max_coverage"})
    assert not staging.exists()
    assert [p.name for p in (tmp_path / "max_coverage").iterdir()] == [target.name]


def test_metadata_records_checksums_and_files_written_at_publication(tmp_path: Path) -> None:
    def write_report(directory: Path, metadata: dict) -> None:
        (directory / "report.md").write_text(f"version {metadata['version']}\n")

    target = publish.publish(_stage(tmp_path, "m", "payload"), {"name": "m"}, write_report)
    metadata = json.loads((target / "metadata.json").read_text())
    assert (target / "report.md").read_text() == "version 1\n"
    assert metadata["files"] == {
        "model.bin": publish.sha256_file(target / "model.bin"),
        "report.md": publish.sha256_file(target / "report.md"),
    }
