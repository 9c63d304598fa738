"""Load one verified model version: its SavedModel signature, request validator and layout."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.artifact import DTYPE_BY_TYPE, Artifact, ArtifactError, read_artifact
from service.batch import Layout
from service.tf_runtime import tf
from service.validation import RequestValidator

# The output each task's signature must produce (models/README.md).
OUTPUT_BY_TASK = {"classification": "probabilities", "regression": "max_coverage"}


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version in memory, with what serving derives from its metadata."""

    artifact: Artifact
    signature: Any  # the `serving_default` concrete function
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
    def output_name(self) -> str:
        """Return the signature output this model is served for."""
        return OUTPUT_BY_TASK[self.artifact.metadata["task"]]


def load_model(name: str, version: int, path: Path) -> LoadedModel:
    """Verify checksums, load the SavedModel and check its signature against the declaration."""
    artifact = read_artifact(name, version, path)
    if artifact.metadata.get("task") not in OUTPUT_BY_TASK:
        raise ArtifactError(f"unknown task {artifact.metadata.get('task')!r}")
    root = tf.saved_model.load(str(artifact.signature_path))
    signature_name = artifact.metadata["signature"].get("name", "serving_default")
    if signature_name not in root.signatures:
        raise ArtifactError(f"SavedModel has no signature {signature_name!r}")
    signature = root.signatures[signature_name]
    _check_inputs(signature, artifact.features)
    return LoadedModel(
        artifact=artifact,
        signature=signature,
        root=root,
        validator=RequestValidator.from_declaration(artifact.features, artifact.prohibited_fields),
        layout=Layout.from_features(artifact.features),
        features_key=_features_key(artifact.features),
    )


def _check_inputs(signature: Any, features: list[dict[str, Any]]) -> None:
    """Refuse a signature whose inputs differ from the declared features and dtypes."""
    _, specs = signature.structured_input_signature
    actual = {name: spec.dtype.name for name, spec in specs.items()}
    expected = {f["name"]: DTYPE_BY_TYPE[f["type"]] for f in features}
    if actual != expected:
        differ = sorted(set(actual.items()) ^ set(expected.items()))
        raise ArtifactError(f"signature inputs do not match the declared features: {differ}")


def _features_key(features: list[dict[str, Any]]) -> str:
    """Fingerprint a declaration so two models can be checked for the same inputs cheaply."""
    return hashlib.sha256(json.dumps(features, sort_keys=True).encode()).hexdigest()
