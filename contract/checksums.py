"""sha256 of a version's files and of metadata.json itself (its `metadata_sha256`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.errors import ContractError

METADATA_FILE = "metadata.json"
DIGEST_KEY = "metadata_sha256"


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
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


def metadata_digest(metadata: Mapping[str, Any]) -> str:
    """Return the sha256 of metadata.json's content without its own digest, in canonical JSON.

    Canonical: keys sorted, separators "," and ":", UTF-8. An edit of metadata.json after
    publication (class order, ranges) then fails like a changed file.
    """
    return sealed_digest(metadata, DIGEST_KEY)


def sealed_digest(document: Mapping[str, Any], key: str) -> str:
    """Return the sha256 of a JSON document without its digest `key`, in canonical JSON."""
    content = {name: value for name, value in document.items() if name != key}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_files(directory: Path, recorded: Mapping[str, str], strict_under: str) -> None:
    """Refuse a version whose files are missing, unlisted (under `strict_under`) or changed."""
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != METADATA_FILE
    }
    if missing := sorted(set(recorded) - present):
        raise ContractError(f"files listed in {METADATA_FILE} are missing: {missing}")
    if extra := sorted(p for p in present - set(recorded) if p.startswith(strict_under + "/")):
        raise ContractError(f"files not listed in {METADATA_FILE}: {extra}")
    for relative, expected in sorted(recorded.items()):
        if sha256_file(directory / relative) != expected:
            raise ContractError(f"sha256 mismatch for {relative}")
