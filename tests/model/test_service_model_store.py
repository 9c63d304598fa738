"""The model store over real artifacts: choosing versions, swapping, refusing broken ones."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from service_support import applicant_columns, make_repository, publish_version, tamper

from contract.checksums import metadata_digest, sha256_file
from service.app import build_store
from service.inference.packing import Batch
from service.inference.prediction import predict
from service.repository.store import ModelStore
from service.settings import Runtime, Settings

POLICY = {"underwriting_policy": 1}  # the shipped policy, published with every repository


@pytest.fixture
def repo(tiny_models_dir: Path, tmp_path: Path) -> Path:
    """A fresh repository holding version 1 of each model."""
    return make_repository(tiny_models_dir, tmp_path / "models")


def store_over(repo: Path, interval: float = 3600.0, runtime: Runtime = "litert") -> ModelStore:
    settings = Settings(models_dir=repo, reload_interval_seconds=interval, runtime=runtime)
    store = build_store(settings)
    store.refresh()
    return store


def versions(store: ModelStore) -> dict[str, dict[str, int]]:
    return {name: s.versions for name, s in store.serving().items()}


def failures(model: str) -> float:
    value = REGISTRY.get_sample_value("underwriting_model_load_failures_total", {"model": model})
    return value or 0.0


def one_batch(store: ModelStore) -> Batch:
    rows = [dict(zip(c := applicant_columns(1, 3), (v[0] for v in c.values()), strict=True))]
    return store.get("underwriting").packer.rows(rows)


def test_serves_the_highest_complete_version_and_ignores_the_rest(
    repo: Path, tiny_models_dir: Path
) -> None:
    source = tiny_models_dir / "risk_class" / "1"
    publish_version(source, repo, "risk_class", 3)
    shutil.copytree(source, repo / "risk_class" / ".tmp-4-abc")  # a publication in progress
    (repo / "risk_class" / "5").mkdir()  # no metadata.json: not a complete version
    shutil.copytree(source, repo / "risk_class" / "latest")  # not an integer
    store = store_over(repo)
    assert versions(store)["underwriting"] == {"risk_class": 3, "max_coverage": 1, **POLICY}
    assert store.ready()


def test_foreign_entries_are_logged_once_and_never_stop_a_later_version(
    repo: Path, tiny_models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for odd in ("²", "٣", "v2", "notes.txt"):  # "²".isdigit() is True; int("²") fails
        (repo / "risk_class" / odd).mkdir() if "." not in odd else (
            repo / "risk_class" / odd
        ).touch()
    (repo / "risk_class" / ".tmp-9-abc").mkdir()  # a publication under way: not mentioned
    with caplog.at_level(logging.WARNING, logger="service.repository.store"):
        store = store_over(repo)
        publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2)
        store.refresh()
        store.refresh()
    assert store.get("risk_class").version == 2
    ignored = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert sorted(ignored) == sorted(
        f"model risk_class: ignoring {odd!r} in its folder: not a version (ASCII digits)"
        for odd in ("²", "٣", "v2", "notes.txt")
    )


def test_a_refusal_reason_clients_see_names_no_filesystem_path(repo: Path) -> None:
    def loader(name: str, version: int, path: Path) -> Any:
        raise FileNotFoundError(2, "No such file or directory", str(path / "model.tflite"))

    store: ModelStore[Any] = ModelStore(repo, ("risk_class",), 3600.0, loader, {}, lambda *a: a)
    store.refresh()
    reason = store.statuses("risk_class")[0].error
    assert (
        reason
        == "FileNotFoundError: [Errno 2] No such file or directory: 'risk_class/1/model.tflite'"
    )
    assert str(repo.resolve()) not in store.not_ready_reason("risk_class")


def test_new_version_swaps_in_and_in_flight_requests_keep_theirs(
    repo: Path, tiny_models_dir: Path
) -> None:
    store = store_over(repo)
    before = store.get("underwriting")
    batch = one_batch(store)
    for name in ("risk_class", "max_coverage"):
        publish_version(tiny_models_dir / name / "1", repo, name, 2)
    store.refresh()
    assert store.get("underwriting").versions == {"risk_class": 2, "max_coverage": 2, **POLICY}
    old = predict(before, batch)  # a request that took v1 before the swap finishes on v1
    assert old.versions == {"risk_class": 1, "max_coverage": 1, **POLICY}
    new = predict(store.get("underwriting"), batch)
    assert new.outputs["probabilities"] == pytest.approx(old.outputs["probabilities"])
    info = {"model": "risk_class", "version": "2"}
    assert REGISTRY.get_sample_value("underwriting_model_info", info) == 1.0
    info["version"] = "1"
    assert REGISTRY.get_sample_value("underwriting_model_info", info) == 0.0


def test_tampered_version_is_refused_once_and_the_old_one_keeps_serving(
    repo: Path, tiny_models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_over(repo)
    tamper(publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2))
    before = failures("risk_class")
    with caplog.at_level(logging.ERROR, logger="service.repository.store"):
        store.refresh()
        store.refresh()  # a refused version is not retried on every poll
    assert failures("risk_class") == before + 1
    assert "risk_class version 2 refused" in caplog.text and "sha256 mismatch" in caplog.text
    assert store.get("risk_class").version == 1
    states = [(s.version, s.state) for s in store.statuses("risk_class")]
    assert states == [(2, "END"), (1, "AVAILABLE")]
    assert "sha256 mismatch for saved_model/variables/" in store.statuses("risk_class")[0].error


def rewrite_checksums(version_dir: Path, change: Any) -> None:
    """Apply `change` to metadata.json's dict and record the files' true checksums."""
    path = version_dir / "metadata.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    metadata["files"] = {
        p.relative_to(version_dir).as_posix(): sha256_file(p)
        for p in version_dir.rglob("*")
        if p.is_file() and p.name != "metadata.json"
    }
    metadata["metadata_sha256"] = metadata_digest(metadata)
    path.write_text(json.dumps(metadata))


def test_metadata_edited_after_publication_is_refused(repo: Path, tiny_models_dir: Path) -> None:
    store = store_over(repo)
    target = publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2)
    path = target / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["class_names"].reverse()  # every file's checksum still matches
    path.write_text(json.dumps(metadata))
    store.refresh()
    assert store.get("risk_class").version == 1
    assert "metadata_sha256 mismatch" in store.statuses("risk_class")[0].error


@pytest.mark.parametrize(
    ("runtime", "model_file"),
    [("tensorflow", "saved_model/saved_model.pb"), ("litert", "model.tflite")],
)
def test_a_corrupt_model_file_with_matching_checksums_is_refused(
    repo: Path, tiny_models_dir: Path, runtime: Runtime, model_file: str
) -> None:
    store = store_over(repo, runtime=runtime)
    target = publish_version(tiny_models_dir / "max_coverage" / "1", repo, "max_coverage", 2)
    (target / model_file).write_bytes(b"not a model")
    rewrite_checksums(target, lambda metadata: None)
    store.refresh()
    assert store.get("max_coverage").version == 1
    assert store.statuses("max_coverage")[0].state == "END"


def test_a_declaration_that_differs_from_the_signature_is_refused(
    repo: Path, tiny_models_dir: Path
) -> None:
    store = store_over(repo)
    target = publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2)
    extra = {"name": "shoe_size", "type": "integer", "unit": "", "description": "x"}
    rewrite_checksums(target, lambda metadata: metadata["features"].append(extra))
    store.refresh()
    assert store.get("risk_class").version == 1
    assert "shoe_size" in store.statuses("risk_class")[0].error


def test_the_composite_follows_a_component_published_alone(
    repo: Path, tiny_models_dir: Path
) -> None:
    store = store_over(repo)
    publish_version(tiny_models_dir / "max_coverage" / "1", repo, "max_coverage", 2)
    store.refresh()
    assert store.get("underwriting").versions == {"risk_class": 1, "max_coverage": 2, **POLICY}


def test_a_component_that_no_longer_pairs_keeps_the_previous_composite_serving(
    repo: Path, tiny_models_dir: Path
) -> None:
    store = store_over(repo)
    target = publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2)

    def describe_age_differently(metadata: dict[str, Any]) -> None:
        metadata["features"][0]["description"] = "Age in whole years."

    rewrite_checksums(target, describe_age_differently)
    store.refresh()
    assert store.get("risk_class").version == 2
    assert store.get("underwriting").versions == {"risk_class": 1, "max_coverage": 1, **POLICY}
    assert store.ready()
    assert predict(store.get("underwriting"), one_batch(store)).size == 1


def test_removing_the_serving_version_falls_back_to_the_highest_left(
    repo: Path, tiny_models_dir: Path
) -> None:
    publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2)
    store = store_over(repo)
    assert store.get("risk_class").version == 2
    shutil.rmtree(repo / "risk_class" / "2")
    store.refresh()
    assert store.get("risk_class").version == 1


def test_the_polling_thread_serves_a_new_version_within_the_interval(
    repo: Path, tiny_models_dir: Path
) -> None:
    store = build_store(Settings(models_dir=repo, reload_interval_seconds=0.1))
    store.start()
    try:
        assert store.wait_scanned(60) and store.ready()
        publish_version(tiny_models_dir / "risk_class" / "1", repo, "risk_class", 2)
        deadline = time.monotonic() + 30
        while store.get("risk_class").version != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.get("underwriting").versions["risk_class"] == 2
    finally:
        store.stop()
