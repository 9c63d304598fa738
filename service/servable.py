"""What answers requests for one model name: model versions plus one compiled runner.

A single model is a servable; so is the composite `underwriting`, which scores both models
on the same batch in one call. Each is warmed up, and its outputs checked, before it serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.artifact import ArtifactError
from service.batch import Batch, Layout
from service.model_loader import LoadedModel
from service.runner import Runner, compile_runner
from service.validation import RequestValidator


@dataclass(frozen=True)
class Servable:
    """A name, the model versions behind it and the function that scores a batch with them."""

    name: str
    models: tuple[LoadedModel, ...]
    runner: Runner
    # Derived once here rather than on every request.
    versions: dict[str, int] = field(init=False)
    class_names: np.ndarray = field(init=False)  # object array; empty without a classifier
    classifier_version: int | None = field(init=False)

    def __post_init__(self) -> None:
        classifier = next((m for m in self.models if m.output_name == "probabilities"), None)
        names = classifier.artifact.metadata["class_names"] if classifier else []
        object.__setattr__(self, "versions", {m.name: m.version for m in self.models})
        object.__setattr__(self, "class_names", np.asarray(names, dtype=object))
        object.__setattr__(self, "classifier_version", classifier and classifier.version)

    @property
    def validator(self) -> RequestValidator:
        return self.models[0].validator

    @property
    def layout(self) -> Layout:
        return self.models[0].layout

    @property
    def features(self) -> list[dict[str, Any]]:
        return self.models[0].artifact.features

    @property
    def version(self) -> int | None:
        """Return the version of a single model; composites have none of their own."""
        return self.models[0].version if len(self.models) == 1 else None


def serve(name: str, models: tuple[LoadedModel, ...]) -> Servable:
    """Compile and warm up the runner for one model or a composite of models."""
    if len({m.features_key for m in models}) > 1:
        described = ", ".join(f"{m.name} v{m.version}" for m in models)
        raise ArtifactError(f"{described} declare different features")
    probe = warm_up_batch(models[0].artifact.features, models[0].layout)
    runner = compile_runner(models[0].layout, [m.signature for m in models], probe)
    outputs = runner(probe)
    for model in models:
        _check_output(model, outputs.get(model.output_name), probe.size)
    return Servable(name=name, models=models, runner=runner)


def warm_up_batch(features: list[dict[str, Any]], layout: Layout) -> Batch:
    """Return two valid records built from the declaration: every minimum, every maximum."""
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    for f in features:
        if f["type"] == "category":
            low[f["name"]], high[f["name"]] = f["categories"][0], f["categories"][-1]
        elif f["type"] == "boolean":
            low[f["name"]], high[f["name"]] = False, True
        else:
            cast = int if f["type"] == "integer" else float
            low[f["name"]] = cast(f.get("minimum", 0))
            high[f["name"]] = cast(f.get("maximum", f.get("minimum", 0)))
    return Batch.from_rows([low, high], layout)


def _check_output(model: LoadedModel, output: np.ndarray | None, size: int) -> None:
    """Refuse a model whose warm-up output breaks the contract in models/README.md."""
    if output is None or not np.all(np.isfinite(output)):
        raise ArtifactError(f"{model.name}: warm-up gave no finite {model.output_name!r} output")
    if model.output_name == "probabilities":
        classes = len(model.artifact.metadata.get("class_names", []))
        if output.shape != (size, classes) or not np.allclose(output.sum(axis=1), 1, atol=1e-3):
            raise ArtifactError(f"{model.name}: malformed probabilities, shape {output.shape}")
    elif output.shape != (size,) or np.any(output < 0):
        raise ArtifactError(f"{model.name}: malformed coverage, shape {output.shape}")
