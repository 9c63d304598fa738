"""Atomic publication of a model version into the model repository."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

METADATA_FILE = "metadata.json"
DIGEST_KEY = "metadata_sha256"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_checksums(directory: Path) -> dict[str, str]:
    """Map every file under directory (relative POSIX path) to its sha256, metadata excepted."""
    return {
        path.relative_to(directory).as_posix(): sha256_file(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != METADATA_FILE
    }


def metadata_digest(metadata: dict[str, Any]) -> str:
    """sha256 of the metadata without its own digest, in canonical JSON.

    The service recomputes it (service/artifact.py, which cannot import training) and refuses a
    version whose metadata.json was edited after publication.
    """
    content = {key: value for key, value in metadata.items() if key != DIGEST_KEY}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def existing_versions(model_dir: Path) -> list[int]:
    """Integer version directories already published for one model."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def staging_directory(models_dir: Path, name: str) -> Path:
    """A fresh hidden directory beside the versions, on the same filesystem for the rename."""
    model_dir = models_dir / name
    model_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_dir))


def publish(
    staging: Path,
    metadata: dict[str, Any],
    write_versioned_files: Callable[[Path, dict[str, Any]], object] = lambda _dir, _meta: None,
) -> Path:
    """Number the version, write files that name it and the checksummed metadata, then rename."""
    model_dir = staging.parent
    while True:
        version = max(existing_versions(model_dir), default=0) + 1
        metadata["version"] = version
        write_versioned_files(staging, metadata)
        metadata["files"] = file_checksums(staging)
        metadata[DIGEST_KEY] = metadata_digest(metadata)
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        target = model_dir / str(version)
        try:
            # rename() of a directory onto a missing name is atomic; if another trainer took the
            # number first it fails and we try the next one.
            os.rename(staging, target)
        except OSError:
            if target.exists():
                continue
            raise
        os.chmod(target, 0o755)
        return target


def discard(staging: Path) -> None:
    """Remove an unfinished staging directory."""
    shutil.rmtree(staging, ignore_errors=True)
