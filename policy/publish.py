"""Publish a policy source file as the next version in the model repository, atomically."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from contract.artifact import list_versions
from policy.document import POLICY_FILE, POLICY_NAME, Policy, read_policy, sealed

DEFAULT_SOURCE = Path(__file__).with_name("underwriting.json")


def load_source(source: Path) -> Policy:
    """Parse a policy source file (no version yet); ContractError names what is wrong."""
    return Policy.from_json(json.loads(source.read_text(encoding="utf-8")))


def publish(source: Path, models_dir: Path) -> tuple[Path, Policy]:
    """Seal `source` as version (highest + 1) under models_dir/underwriting_policy/."""
    policy = load_source(source)
    policy_dir = models_dir / POLICY_NAME
    policy_dir.mkdir(parents=True, exist_ok=True)
    while True:
        version = max(list_versions(policy_dir, POLICY_FILE), default=0) + 1
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
