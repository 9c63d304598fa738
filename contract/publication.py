"""Atomic publication of a model version into a model repository: numbered, sealed, renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from contract.artifact import is_version_name, write_metadata
from contract.metadata import ModelMetadata


def existing_versions(model_dir: Path) -> list[int]:
    """Integer version directories already published for one model."""
    if not model_dir.is_dir():
        return []
    return sorted(
        int(p.name) for p in model_dir.iterdir() if p.is_dir() and is_version_name(p.name)
    )


def staging_directory(models_dir: Path, name: str) -> Path:
    """A fresh hidden directory beside the versions, on the same filesystem for the rename."""
    model_dir = models_dir / name
    model_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_dir))


def publish(
    staging: Path,
    metadata: ModelMetadata,
    write_versioned_files: Callable[[Path, ModelMetadata], object] = lambda _dir, _meta: None,
) -> tuple[Path, ModelMetadata]:
    """Number the version, write files that name it and the sealed metadata, then rename."""
    model_dir = staging.parent
    while True:
        numbered = replace(metadata, version=max(existing_versions(model_dir), default=0) + 1)
        write_versioned_files(staging, numbered)
        sealed = write_metadata(staging, numbered)
        target = model_dir / str(numbered.version)
        try:
            # rename() of a directory onto a missing name is atomic; if another trainer took the
            # number first it fails and we try the next one.
            os.rename(staging, target)
        except OSError:
            if target.exists():
                continue
            raise
        os.chmod(target, 0o755)
        return target, sealed


def discard(staging: Path) -> None:
    """Remove an unfinished staging directory."""
    shutil.rmtree(staging, ignore_errors=True)
