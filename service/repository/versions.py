"""Which versions of a name a model repository holds complete, newest first: the one answer the
service's model store and the batch scorer both choose from."""

from __future__ import annotations

from pathlib import Path

from contract.artifact import list_versions
from contract.checksums import METADATA_FILE
from policy.document import POLICY_FILE, POLICY_NAME


def complete_versions(models_dir: Path, name: str) -> list[int]:
    """The versions of a model (holding metadata.json) or of the policy (holding policy.json)
    published completely under `models_dir/name`, highest first."""
    marker = POLICY_FILE if name == POLICY_NAME else METADATA_FILE
    return list_versions(models_dir / name, marker)
