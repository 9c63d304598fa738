"""A model repository's lifecycle: list, verify, promote and roll back versions.

Versions are immutable and sealed with their own number, so a version is never moved or
renamed: promoting or rolling back re-publishes a verified version's files under the next
number of the target repository, re-sealed, with a provenance step saying where it came from,
who did it and when. Each re-publication is atomic (one rename); the service picks it up at
its next poll like any new version. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from contract import publication
from contract.artifact import is_version_name, read_artifact
from contract.checksums import METADATA_FILE
from contract.errors import ContractError
from contract.metadata import ModelMetadata
from policy.document import POLICY_FILE, POLICY_NAME, read_policy
from policy.publish import check_fit, publish_policy

Action = Literal["promote", "rollback"]
REPORT_FILE = "report.md"
_REPORT_TITLE = re.compile(r"^# (?P<name>\S+) — version \d+$", re.MULTILINE)


class LifecycleError(RuntimeError):
    """A promotion or rollback that cannot be done as asked; nothing was published."""


@dataclass(frozen=True)
class VersionState:
    """One version directory of a name, as the service would see it."""

    name: str
    version: int
    state: str  # "newest" (what the service serves), "earlier", "refused", "incomplete"
    detail: str = ""  # why a version is refused
    metadata: ModelMetadata | None = None
    created_at: str = ""


def names(models_dir: Path) -> list[str]:
    """The model names a repository holds (directories with at least one version), the policy
    last: it is checked against the models when it is published."""
    if not models_dir.is_dir():
        return []
    found = sorted(
        p.name
        for p in models_dir.iterdir()
        if p.is_dir() and any(is_version_name(v.name) for v in p.iterdir())
    )
    return [n for n in found if n != POLICY_NAME] + [n for n in found if n == POLICY_NAME]


def states(models_dir: Path, name: str) -> list[VersionState]:
    """Every version directory of `name`, highest first, each verified as the service would."""
    model_dir = models_dir / name
    if not model_dir.is_dir():
        return []
    numbers = sorted(
        (int(p.name) for p in model_dir.iterdir() if p.is_dir() and is_version_name(p.name)),
        reverse=True,
    )
    found: list[VersionState] = []
    for version in numbers:
        path = model_dir / str(version)
        marker = POLICY_FILE if name == POLICY_NAME else METADATA_FILE
        if not (path / marker).is_file():
            found.append(VersionState(name, version, "incomplete", f"no {marker}"))
            continue
        try:
            if name == POLICY_NAME:
                policy = read_policy(path, version)
                metadata, created = None, policy.created_at
            else:
                metadata = read_artifact(path, name, version).metadata
                created = metadata.created_at
        except Exception as exc:  # anything the service's loader would refuse the version for
            found.append(VersionState(name, version, "refused", str(exc) or type(exc).__name__))
            continue
        served = any(s.state == "newest" for s in found)
        state = "earlier" if served else "newest"
        found.append(VersionState(name, version, state, "", metadata, created))
    return found


def _highest(models_dir: Path, name: str) -> int:
    """The highest complete version, whether or not it verifies: a promotion takes what was
    published last, or nothing (never quietly an older one)."""
    complete = [s.version for s in states(models_dir, name) if s.state != "incomplete"]
    if not complete:
        raise LifecycleError(f"{models_dir}/{name} holds no complete version")
    return complete[0]


def newest(models_dir: Path, name: str) -> VersionState:
    """The version the service serves: the highest that verifies."""
    for state in states(models_dir, name):
        if state.state == "newest":
            return state
    raise LifecycleError(f"{models_dir}/{name} holds no version that verifies")


def check_source(
    source_dir: Path, name: str, version: int, over_failed_gate: bool = False
) -> ModelMetadata | None:
    """Verify a version before it is published again: its seal, every file's checksum, and the
    gate it passed (the metadata of a model; None for the policy, checked by its own seal)."""
    source = source_dir / name / str(version)
    try:
        if name == POLICY_NAME:
            read_policy(source, version)
            return None
        metadata = read_artifact(source, name, version).metadata
    except Exception as exc:  # as the service's loader: whatever fails refuses the version
        raise LifecycleError(f"{name} version {version} of {source_dir}: {exc}") from exc
    gate = metadata.training.get("gate")
    if isinstance(gate, Mapping) and not gate.get("passed") and not gate.get("published_anyway"):
        if not over_failed_gate:
            raise LifecycleError(
                f"{name} version {version} of {source_dir} failed the publication gate "
                f"({'; '.join(gate.get('failures', []))}); promote it anyway with "
                "--over-failed-gate (recorded in its metadata)"
            )
        training = {**metadata.training, "gate": {**gate, "published_anyway": True}}
        metadata = replace(metadata, training=training)
    return metadata


def republish(
    source_dir: Path,
    name: str,
    version: int,
    target_dir: Path,
    action: Action,
    by: str,
    over_failed_gate: bool = False,
) -> int:
    """Publish `source_dir/name/version` again as the next version of `target_dir/name`."""
    metadata = check_source(source_dir, name, version, over_failed_gate)
    source = source_dir / name / str(version)
    if metadata is None:  # the policy: sealed again with its next number and date
        _, policy = publish_policy(read_policy(source, version), target_dir)
        return policy.version or 0
    step = {
        "action": action,
        "source_repository": str(source_dir.resolve()),
        "source_version": version,
        "by": by,
        "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    metadata = replace(metadata, provenance=(*metadata.provenance, step))
    staging = publication.staging_directory(target_dir, name)
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        (staging / METADATA_FILE).unlink()
        target, _ = publication.publish(staging, metadata, _renumber_report(step))
    except BaseException:
        publication.discard(staging)
        raise
    return int(target.name)


def _renumber_report(step: Mapping[str, Any]) -> Any:
    """Say the new number in report.md's title and where the version came from."""

    original: list[str] = []  # read once: publication may try several numbers

    def rewrite(directory: Path, metadata: ModelMetadata) -> None:
        report = directory / REPORT_FILE
        if not report.is_file():
            return
        if not original:
            original.append(report.read_text())
        text = _REPORT_TITLE.sub(
            f"# {metadata.name} — version {metadata.version}", original[0], count=1
        )
        verb = "Promoted from" if step["action"] == "promote" else "Rolled back to"
        text += (
            f"\n## Provenance\n\n{verb} version {step['source_version']} of "
            f"{step['source_repository']} by {step['by']} at {step['at']}.\n"
        )
        report.write_text(text)

    return rewrite


def promote(
    source_dir: Path,
    target_dir: Path,
    by: str,
    only: str | None = None,
    version: int | None = None,
    over_failed_gate: bool = False,
) -> list[tuple[str, int, int]]:
    """Publish the newest version of every name in `source_dir` (or `only`, at `version`) into
    `target_dir`: (name, source version, new version) for each."""
    chosen = [only] if only is not None else names(source_dir)
    if not chosen:
        raise LifecycleError(f"{source_dir} holds no model versions")
    picked = [
        (name, version if version is not None else _highest(source_dir, name)) for name in chosen
    ]
    for name, number in picked:  # every source verified before anything is published
        check_source(source_dir, name, number, over_failed_gate)
        if name == POLICY_NAME:  # against the classifier it will decide with once promoted
            fits_against = source_dir if len(picked) > 1 else target_dir
            try:
                check_fit(read_policy(source_dir / name / str(number), number), fits_against)
            except ContractError as exc:
                raise LifecycleError(f"{name} version {number} of {source_dir}: {exc}") from exc
    return [
        (name, number, republish(source_dir, name, number, target_dir, "promote", by, True))
        for name, number in picked
    ]


def rollback(
    models_dir: Path, by: str, only: str | None = None, to_version: int | None = None
) -> list[tuple[str, int, int]]:
    """Publish again, as the next version, the version before the served one of every model
    (or `only`, at `to_version`): (name, version restored, new version) for each."""
    chosen = [only] if only is not None else [n for n in names(models_dir) if n != POLICY_NAME]
    if not chosen:
        raise LifecycleError(f"{models_dir} holds no model versions")
    picked = []
    for name in chosen:
        valid = [s.version for s in states(models_dir, name) if s.state in ("newest", "earlier")]
        if to_version is not None:
            if to_version not in valid:
                raise LifecycleError(f"{name} has no version {to_version} that verifies")
            picked.append((name, to_version))
        elif len(valid) < 2:
            raise LifecycleError(f"{name} has no earlier version that verifies to roll back to")
        else:
            picked.append((name, valid[1]))
    for name, number in picked:
        check_source(models_dir, name, number)
    return [
        (name, number, republish(models_dir, name, number, models_dir, "rollback", by))
        for name, number in picked
    ]
