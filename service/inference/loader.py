"""Load one verified model version: its SavedModel signature, request validator and batch layout."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.artifact import Artifact, read_artifact
from contract.errors import ContractError
from contract.metadata import ModelMetadata
from service.inference import runtime
from service.inference.batch import Layout
from service.validation.validator import RequestValidator


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version in memory, with what serving derives from its metadata."""

    artifact: Artifact
    signature: Any  # the serving signature's concrete function
    root: Any  # the loaded SavedModel; the signature's variables live as long as it does
    validator: RequestValidator
    layout: Layout
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


def load_model(name: str, version: int, path: Path, threads: int = 1) -> LoadedModel:
    """Verify checksums, load the SavedModel and check its signature against the declaration."""
    artifact = read_artifact(path, name, version)
    metadata = artifact.metadata
    tf = runtime.tensorflow(threads)
    root = tf.saved_model.load(str(artifact.signature_path))
    if metadata.signature.name not in root.signatures:
        raise ContractError(f"SavedModel has no signature {metadata.signature.name!r}")
    signature = root.signatures[metadata.signature.name]
    _check_signature(signature, metadata)
    return LoadedModel(
        artifact=artifact,
        signature=signature,
        root=root,
        validator=RequestValidator.from_declaration(metadata.features, metadata.prohibited),
        layout=Layout.from_features(metadata.features),
        features_key=_features_key(metadata),
    )


def _check_signature(signature: Any, metadata: ModelMetadata) -> None:
    """Refuse a signature whose inputs or outputs differ from the declared ones and dtypes."""
    _, specs = signature.structured_input_signature
    inputs = {name: spec.dtype.name for name, spec in specs.items()}
    if inputs != dict(metadata.signature.inputs):
        differ = sorted(set(inputs.items()) ^ set(metadata.signature.inputs.items()))
        raise ContractError(f"signature inputs do not match the declared features: {differ}")
    outputs = {name: spec.dtype.name for name, spec in signature.structured_outputs.items()}
    declared = {o.name: o.dtype for o in metadata.outputs}
    if outputs != declared:
        differ = sorted(set(outputs.items()) ^ set(declared.items()))
        raise ContractError(f"signature outputs do not match the declared outputs: {differ}")


def _features_key(metadata: ModelMetadata) -> str:
    """Fingerprint a declaration so two models can be checked for the same inputs cheaply."""
    declared = [f.to_json() for f in metadata.features]
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()
