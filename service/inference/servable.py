"""What answers requests for one model name: model versions, their outputs and one compiled runner.

A single model is a servable; so is the composite `underwriting`, which scores both models on the
same packed batch. Its outputs are whatever the models' artifacts declare, plus the outputs
derived from them (the predicted class from probabilities). Each servable is warmed up, and its
outputs checked against their declarations, before it serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from contract.errors import ContractError
from contract.features import Feature
from contract.outputs import OutputSpec
from policy.document import Policy
from service.inference.loader import REQUEST_FIELDS, LoadedModel
from service.inference.packing import Batch, Packer
from service.inference.runtimes import Runner
from service.validation.validator import RequestValidator


@dataclass(frozen=True)
class ServedOutput:
    """One output of a servable: its spec, the model giving it and, if derived, its source."""

    spec: OutputSpec
    model: LoadedModel
    source: str | None = None  # the declared output a derived one is computed from
    labels: np.ndarray = field(default_factory=lambda: np.asarray([], dtype=object))

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Servable:
    """A name, the model versions behind it and the function that scores a batch with them."""

    name: str
    models: tuple[LoadedModel, ...]
    runner: Runner
    policy: Policy | None = None  # the decision policy, for a servable that decides
    # Derived once here rather than on every request. Outputs: per model, declared then derived;
    # answer_first: per model, each derived output (the class) before the one it comes from.
    versions: dict[str, int] = field(init=False)
    outputs: tuple[ServedOutput, ...] = field(init=False)
    answer_first: tuple[ServedOutput, ...] = field(init=False)

    def __post_init__(self) -> None:
        outputs = tuple(o for m in self.models for o in _outputs(m))
        position = {id(m): i for i, m in enumerate(self.models)}
        ordered = sorted(outputs, key=lambda o: (position[id(o.model)], o.source is None))
        versions = {m.name: m.version for m in self.models}
        if self.policy is not None:
            versions |= self.policy.versions
        object.__setattr__(self, "versions", versions)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "answer_first", tuple(ordered))

    @property
    def validator(self) -> RequestValidator:
        return self.models[0].validator

    @property
    def request_fields(self) -> tuple[Feature, ...]:
        """What a request's records may carry: the features, then the optional request fields."""
        return self.features + REQUEST_FIELDS

    @cached_property
    def number_fields(self) -> frozenset[str]:
        """The request fields declared as numbers (a record's fingerprint writes them as floats)."""
        return frozenset(f.name for f in self.request_fields if f.type == "number")

    @property
    def explaining_model(self) -> LoadedModel | None:
        """The model whose explain signature gives reasons (the classifier), if any."""
        return next((m for m in self.models if m.explainer is not None), None)

    @property
    def packer(self) -> Packer:
        return self.models[0].packer

    @property
    def features(self) -> tuple[Feature, ...]:
        return self.models[0].metadata.features

    @property
    def version(self) -> int | None:
        """Return the version of a single model; composites have none of their own."""
        return self.models[0].version if len(self.models) == 1 else None


def _outputs(model: LoadedModel) -> list[ServedOutput]:
    """A model's declared outputs, then those derived from them."""
    metadata = model.metadata
    outputs = [ServedOutput(spec, model) for spec in metadata.outputs]
    for derived, spec in zip(metadata.derived_outputs, metadata.derived_specs(), strict=True):
        labels = np.asarray(spec.values or (), dtype=object)
        outputs.append(ServedOutput(spec, model, derived.source, labels))
    return outputs


def build_servable(
    name: str, models: tuple[LoadedModel, ...], policy: Policy | None = None
) -> Servable:
    """Compile and warm up the runner for one model or a composite of models."""
    described = ", ".join(f"{m.name} v{m.version}" for m in models)
    if len({m.features_key for m in models}) > 1:
        raise ContractError(f"{described} declare different features")
    names = [o.name for m in models for o in (*m.metadata.outputs, *m.metadata.derived_specs())]
    if repeated := sorted({n for n in names if names.count(n) > 1}):
        raise ContractError(f"{described} both declare the outputs {repeated}")
    if len({m.runtime.name for m in models}) > 1:
        raise ContractError(f"{described} were loaded by different runtimes")
    probe = warm_up_batch(models[0].metadata.features, models[0].packer)
    runner = models[0].runtime.compile(models[0].packer, [m.network for m in models], probe)
    outputs = runner(probe)
    for model in models:
        for spec in model.metadata.outputs:
            _check_output(model, spec, outputs.get(spec.name), probe.size)
    return Servable(name=name, models=models, runner=runner, policy=policy)


def warm_up_batch(features: tuple[Feature, ...], packer: Packer) -> Batch:
    """Return two valid records built from the declaration: every minimum, every maximum."""
    low: dict[str, object] = {}
    high: dict[str, object] = {}
    for f in features:
        if f.type == "category":
            categories = f.categories or ("",)
            low[f.name], high[f.name] = categories[0], categories[-1]
        elif f.type == "boolean":
            low[f.name], high[f.name] = False, True
        else:
            cast = int if f.type == "integer" else float
            minimum = f.minimum if f.minimum is not None else 0
            low[f.name] = cast(minimum)
            high[f.name] = cast(f.maximum if f.maximum is not None else minimum)
    return packer.rows([low, high])


def _check_output(
    model: LoadedModel, spec: OutputSpec, output: np.ndarray | None, size: int
) -> None:
    """Refuse a model whose warm-up output breaks its declaration (shape, finite, bounds)."""
    where = f"{model.name}: warm-up output {spec.name!r}"
    if output is None or not np.all(np.isfinite(output)):
        raise ContractError(f"{where} is missing or not finite")
    if output.shape != (size, *spec.shape[1:]):
        raise ContractError(f"{where} has shape {output.shape}, declared {list(spec.shape)}")
    if spec.minimum is not None and np.any(output < spec.minimum):
        raise ContractError(f"{where} is below its declared minimum {spec.minimum}")
    if spec.maximum is not None and np.any(output > spec.maximum):
        raise ContractError(f"{where} is above its declared maximum {spec.maximum}")
    if spec.row_sum is not None and not np.allclose(output.sum(axis=-1), spec.row_sum, atol=1e-3):
        raise ContractError(f"{where}: rows do not sum to {spec.row_sum}")
