"""The model repository on disk: version directories, metadata.json and file checksums.

See models/README.md for the contract this module reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METADATA_FILE = "metadata.json"
REQUIRED_KEYS = frozenset({"format_version", "name", "version", "features", "signature", "files"})
SUPPORTED_FORMAT = 1
# The tensor dtype each declared feature type must arrive as.
DTYPE_BY_TYPE = {"integer": "int64", "number": "float64", "boolean": "bool", "category": "string"}


class ArtifactError(Exception):
    """A version directory that must not be served (incomplete, tampered, malformed)."""


@dataclass(frozen=True)
class Artifact:
    """One published version: where it is and what its metadata.json says."""

    name: str
    version: int
    path: Path
    metadata: dict[str, Any]

    @property
    def features(self) -> list[dict[str, Any]]:
        """Return the feature declaration exactly as in metadata.json."""
        return list(self.metadata["features"])

    @property
    def prohibited_fields(self) -> dict[str, list[str]]:
        """Return the protected attributes and identifiers a request must not carry."""
        return dict(self.metadata.get("prohibited_fields", {}))

    @property
    def signature_path(self) -> Path:
        """Return the SavedModel directory."""
        return self.path / self.metadata["signature"]["path"]


def list_versions(model_dir: Path) -> list[int]:
    """Return the published versions of one model, highest first (non-integers ignored)."""
    if not model_dir.is_dir():
        return []
    versions = [
        int(p.name)
        for p in model_dir.iterdir()
        if p.name.isdigit() and p.is_dir() and (p / METADATA_FILE).is_file()
    ]
    return sorted(versions, reverse=True)


DIGEST_KEY = "metadata_sha256"


def read_artifact(name: str, version: int, path: Path) -> Artifact:
    """Read and sanity-check metadata.json, then verify every file against its sha256."""
    try:
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"unreadable {METADATA_FILE}: {exc}") from exc
    _check_metadata(name, version, metadata)
    verify_files(path, metadata["files"])
    return Artifact(name=name, version=version, path=path, metadata=metadata)


def _check_metadata(name: str, version: int, metadata: Any) -> None:
    """Refuse metadata that is not for this model and version or lacks what serving needs."""
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{METADATA_FILE} is not an object")
    if missing := REQUIRED_KEYS - set(metadata):
        raise ArtifactError(f"{METADATA_FILE} lacks {sorted(missing)}")
    if metadata["format_version"] != SUPPORTED_FORMAT:
        raise ArtifactError(f"unsupported format_version {metadata['format_version']!r}")
    if metadata.get(DIGEST_KEY) != metadata_digest(metadata):
        raise ArtifactError(f"{METADATA_FILE} changed after publication ({DIGEST_KEY} mismatch)")
    if metadata["name"] != name or metadata["version"] != version:
        raise ArtifactError(
            f"metadata names {metadata['name']} v{metadata['version']}, directory {name}/{version}"
        )
    for feature in metadata["features"]:
        if feature.get("type") not in DTYPE_BY_TYPE:
            raise ArtifactError(f"feature {feature.get('name')!r} has unknown type")


def metadata_digest(metadata: dict[str, Any]) -> str:
    """sha256 of metadata.json's content without its own digest, in canonical JSON.

    Training records it as `metadata_sha256` (training/publish.py computes it the same way), so
    an edit of metadata.json after publication (class order, ranges) is refused like any other.
    """
    content = {key: value for key, value in metadata.items() if key != DIGEST_KEY}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_files(path: Path, recorded: dict[str, str]) -> None:
    """Refuse a version whose files are missing, unlisted or differ from their sha256."""
    present = {
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() and p.name != METADATA_FILE
    }
    if missing := sorted(set(recorded) - present):
        raise ArtifactError(f"files listed in {METADATA_FILE} are missing: {missing}")
    if extra := sorted(p for p in present - set(recorded) if p.startswith("saved_model/")):
        raise ArtifactError(f"files not listed in {METADATA_FILE}: {extra}")
    for relative, expected in sorted(recorded.items()):
        if sha256_file(path / relative) != expected:
            raise ArtifactError(f"sha256 mismatch for {relative}")


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
