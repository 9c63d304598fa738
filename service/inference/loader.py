"""Load one verified model version: its network in the chosen runtime, validator and packing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.artifact import Artifact, read_artifact
from contract.metadata import ModelMetadata
from policy.document import REQUESTED_COVERAGE
from service.inference.packing import Packer
from service.inference.runtimes import Explain, Runtime
from service.validation.validator import RequestValidator

# Optional fields any record may carry besides the features: the service's request contract,
# used by models that decide (the amount applied for) and ignored by the others.
REQUEST_FIELDS = (REQUESTED_COVERAGE,)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version in memory, with what serving derives from its metadata."""

    artifact: Artifact
    network: Any  # what the runtime loaded (LiteRT interpreters, or a SavedModel signature)
    runtime: Runtime
    validator: RequestValidator
    packer: Packer
    features_key: str  # equal keys <=> identical feature declarations
    explainer: Explain | None = None  # the explain signature, for a model that declares one

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
    network = runtime.load(artifact)
    packer = runtime.packer(metadata.features)
    return LoadedModel(
        artifact=artifact,
        network=network,
        runtime=runtime,
        validator=RequestValidator.from_declaration(
            metadata.features, metadata.prohibited, optional=REQUEST_FIELDS
        ),
        packer=packer,
        features_key=_features_key(metadata),
        explainer=runtime.explainer(artifact, network, packer),
    )


# Words for people only: a version published before categories had labels (or with other
# words) takes the same inputs, so it still composes with, and shadows, one that has them.
_NOT_INPUTS = ("category_labels",)


def _features_key(metadata: ModelMetadata) -> str:
    """Fingerprint a declaration so two models can be checked for the same inputs cheaply."""
    declared = [
        {k: v for k, v in f.to_json().items() if k not in _NOT_INPUTS} for f in metadata.features
    ]
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()
