"""A model version directory: named by its number, read and verified, or written.

<models_dir>/<model name>/<version>/   ASCII-digit version names; anything else is ignored
    metadata.json                      the ModelMetadata, sealed by its own sha256
    saved_model/ ...                   every other file, listed with its sha256
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from contract.checksums import (
    DIGEST_KEY,
    METADATA_FILE,
    file_checksums,
    metadata_digest,
    verify_files,
)
from contract.errors import ContractError
from contract.metadata import ModelMetadata


@dataclass(frozen=True)
class Artifact:
    """One published, verified version: where it is and what it says of itself."""

    path: Path
    metadata: ModelMetadata

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> int:
        return self.metadata.version or 0

    @property
    def signature_path(self) -> Path:
        """Return the SavedModel directory."""
        return self.path / self.metadata.signature.path


def is_version_name(name: str) -> bool:
    """True for a version directory name: ASCII digits only ("²" and "٣" are not versions)."""
    return name.isascii() and name.isdigit()


def list_versions(model_dir: Path, marker: str = METADATA_FILE) -> list[int]:
    """Return the complete versions (those holding `marker`: metadata.json), highest first."""
    if not model_dir.is_dir():
        return []
    versions = [
        int(p.name)
        for p in model_dir.iterdir()
        if is_version_name(p.name) and p.is_dir() and (p / marker).is_file()
    ]
    return sorted(versions, reverse=True)


def read_artifact(path: Path, name: str, version: int) -> Artifact:
    """Read metadata.json, check its seal and meaning, then verify every file's sha256."""
    try:
        raw = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(f"unreadable {METADATA_FILE}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ContractError(f"{METADATA_FILE} is not an object")
    if raw.get(DIGEST_KEY) != metadata_digest(raw):
        raise ContractError(f"{METADATA_FILE} changed after publication ({DIGEST_KEY} mismatch)")
    metadata = ModelMetadata.from_json(raw)
    if metadata.name != name or metadata.version != version:
        raise ContractError(
            f"metadata names {metadata.name} v{metadata.version}, directory {name}/{version}"
        )
    verify_files(path, metadata.files, strict_under=metadata.signature.path)
    if metadata.litert is not None and metadata.litert.path not in metadata.files:
        raise ContractError(f"the LiteRT export {metadata.litert.path} is not among the files")
    if metadata.explain is not None and metadata.explain.litert not in metadata.files:
        raise ContractError(f"the explain export {metadata.explain.litert} is not among the files")
    return Artifact(path, metadata)


def write_metadata(directory: Path, metadata: ModelMetadata) -> ModelMetadata:
    """Record the sha256 of every file in `directory`, then write the sealed metadata.json.

    What is written must read back as itself: a declaration the service would refuse (a
    signature path outside the version, a derived output without its source) fails here, at
    publication, not later in every worker.
    """
    sealed = replace(metadata, files=file_checksums(directory))
    content = sealed.to_json()
    if ModelMetadata.from_json(content) != sealed:
        raise ContractError(f"{sealed.name}: metadata does not read back as written")
    content[DIGEST_KEY] = metadata_digest(content)
    (directory / METADATA_FILE).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return sealed
