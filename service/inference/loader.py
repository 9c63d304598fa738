"""Load one verified model version: its network in the chosen runtime, validator and packing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.artifact import Artifact, read_artifact
from contract.metadata import ModelMetadata
from service.inference.packing import Packer
from service.inference.runtimes import Runtime
from service.validation.validator import RequestValidator


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version in memory, with what serving derives from its metadata."""

    artifact: Artifact
    network: Any  # what the runtime loaded (LiteRT interpreters, or a SavedModel signature)
    runtime: Runtime
    validator: RequestValidator
    packer: Packer
    features_key: str  # equal keys <=> identical feature declarations

    @property
    def name(self) -> str:
        return self.artifact.name

    @property
    def version(self) -> int:
        return self.artifact.version

    @property
    def metadata(self) -> ModelMetadata:
        return self.artifact.metadata


def load_model(name: str, version: int, path: Path, runtime: Runtime) -> LoadedModel:
    """Verify checksums and the declaration, then load the network in the runtime."""
    artifact = read_artifact(path, name, version)
    metadata = artifact.metadata
    return LoadedModel(
        artifact=artifact,
        network=runtime.load(artifact),
        runtime=runtime,
        validator=RequestValidator.from_declaration(metadata.features, metadata.prohibited),
        packer=runtime.packer(metadata.features),
        features_key=_features_key(metadata),
    )


def _features_key(metadata: ModelMetadata) -> str:
    """Fingerprint a declaration so two models can be checked for the same inputs cheaply."""
    declared = [f.to_json() for f in metadata.features]
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()
