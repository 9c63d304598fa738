"""Publish a policy source file as the next version in the model repository, atomically."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from contract.artifact import is_version_name, list_versions
from contract.checksums import METADATA_FILE
from contract.errors import ContractError
from contract.metadata import ModelMetadata
from policy.document import POLICY_FILE, POLICY_NAME, Policy, read_policy, sealed

DEFAULT_SOURCE = Path(__file__).with_name("underwriting.json")


def check_fit(policy: Policy, models_dir: Path) -> None:
    """Refuse a policy that does not fit the repository's newest classifier (if there is one).

    The service checks this when it loads a policy version, so an unfit version is refused as a
    version (the newest one that fits keeps deciding); publication checks it first.
    """
    if not models_dir.is_dir():
        return
    for model_dir in sorted(p for p in models_dir.iterdir() if p.name != POLICY_NAME):
        for version in list_versions(model_dir):
            try:  # the declaration only: the model's own checks come when it loads
                raw = json.loads((model_dir / str(version) / METADATA_FILE).read_text())
                metadata = ModelMetadata.from_json(raw)
            except (ContractError, OSError, ValueError):
                continue  # an unreadable model version says nothing about the policy
            if metadata.explain is not None:
                policy.check_against(
                    metadata.features, metadata.explain.features, metadata.class_names
                )
                return
            break  # not a classifier with reasons: look at the next model


def load_source(source: Path) -> Policy:
    """Parse a policy source file (no version yet); ContractError names what is wrong."""
    return Policy.from_json(json.loads(source.read_text(encoding="utf-8")))


def publish(source: Path, models_dir: Path) -> tuple[Path, Policy]:
    """Seal `source` as version (highest + 1) under models_dir/underwriting_policy/."""
    return publish_policy(load_source(source), models_dir)


def publish_policy(policy: Policy, models_dir: Path) -> tuple[Path, Policy]:
    """Seal a parsed policy (a source, or a published version again) as the next version."""
    check_fit(policy, models_dir)
    policy_dir = models_dir / POLICY_NAME
    policy_dir.mkdir(parents=True, exist_ok=True)
    while True:
        taken = [int(p.name) for p in policy_dir.iterdir() if is_version_name(p.name)]
        version = max(taken, default=0) + 1  # past any directory, complete or not
        stamped = dataclasses.replace(
            policy,
            version=version,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=policy_dir))
        (staging / POLICY_FILE).write_text(json.dumps(sealed(stamped), indent=2) + "\n")
        target = policy_dir / str(version)
        try:
            os.rename(staging, target)  # atomic; fails if another publisher took the number
        except OSError:
            (staging / POLICY_FILE).unlink()
            staging.rmdir()
            if target.exists():
                continue
            raise
        os.chmod(target, 0o755)
        return target, read_policy(target, version)


def current(models_dir: Path) -> int | None:
    """The highest published policy version, if any."""
    return max(list_versions(models_dir / POLICY_NAME, POLICY_FILE), default=None)
