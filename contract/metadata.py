"""metadata.json as typed objects: parsed and checked once, written in one place.

models/README.md documents the format; a test checks that it lists every key written here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from contract.dtypes import TENSOR_DTYPE_BY_FEATURE_TYPE
from contract.errors import ContractError
from contract.explanations import Explanation
from contract.features import Feature, ProhibitedFields
from contract.formats import CURRENT_FORMAT, upgrade
from contract.outputs import DerivedOutput, OutputSpec
from contract.packing import PackedLayout
from contract.reference import Binned, references_from_json, references_to_json

FORMAT_VERSION = CURRENT_FORMAT
SIGNATURE_NAME = "serving_default"
SAVED_MODEL_DIR = "saved_model"
LITERT_FILE = "model.tflite"
Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = get_args(Task)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # one path segment, not "." or ".."
REQUIRED_KEYS = (
    "format_version",
    "name",
    "version",
    "task",
    "features",
    "signature",
    "outputs",
    "files",
)


@dataclass(frozen=True)
class Signature:
    """Where the SavedModel is, which signature serves, and its inputs (feature -> dtype)."""

    path: str
    name: str
    inputs: Mapping[str, str]

    @classmethod
    def for_features(cls, features: tuple[Feature, ...]) -> Signature:
        """Return the serving signature of raw feature columns, one tensor per feature."""
        inputs = {f.name: TENSOR_DTYPE_BY_FEATURE_TYPE[f.type] for f in features}
        return cls(SAVED_MODEL_DIR, SIGNATURE_NAME, inputs)

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form."""
        return {"path": self.path, "name": self.name, "inputs": dict(self.inputs)}


@dataclass(frozen=True)
class LiteRTExport:
    """The LiteRT (TensorFlow Lite) export: where it is, its packed inputs, how it compared.

    `parity` records the publication check against the SavedModel: the probe records scored,
    the largest absolute difference per output, and whether the classes agreed.
    """

    path: str
    signature: str
    numbers: tuple[str, ...]
    categories: tuple[str, ...]
    parity: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def for_features(
        cls, features: tuple[Feature, ...], parity: Mapping[str, Any] | None = None
    ) -> LiteRTExport:
        """Return the export of a model over these features, packed as contract.packing says."""
        layout = PackedLayout.of(features)
        return cls(
            LITERT_FILE, SIGNATURE_NAME, layout.numbers, layout.category_names, dict(parity or {})
        )

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form."""
        return {
            "path": self.path,
            "signature": self.signature,
            "inputs": {"numbers": list(self.numbers), "categories": list(self.categories)},
            "parity": dict(self.parity),
        }

    @classmethod
    def from_json(cls, raw: Any) -> LiteRTExport:
        """Parse metadata.json's `litert`."""
        inputs = raw.get("inputs") if isinstance(raw, Mapping) else None
        if not isinstance(inputs, Mapping) or not isinstance(raw.get("path"), str):
            raise ContractError("litert is not an object with a path and inputs")
        if not _PLAIN_NAME.fullmatch(raw["path"]):
            raise ContractError(f"litert path {raw['path']!r} is not a file name in the version")
        names: list[list[str]] = [inputs.get("numbers", 0), inputs.get("categories", 0)]
        if not all(isinstance(n, list) and all(isinstance(x, str) for x in n) for n in names):
            raise ContractError("litert inputs must list feature names")
        parity = raw.get("parity", {})
        if not isinstance(parity, Mapping):
            raise ContractError("litert parity is not an object")
        return cls(
            raw["path"],
            str(raw.get("signature", SIGNATURE_NAME)),
            tuple(names[0]),
            tuple(names[1]),
            dict(parity),
        )


@dataclass(frozen=True)
class ModelMetadata:
    """Everything a published model version says about itself."""

    name: str
    task: Task
    description: str
    created_at: str
    features: tuple[Feature, ...]
    outputs: tuple[OutputSpec, ...]
    signature: Signature
    prohibited: ProhibitedFields = ProhibitedFields()
    derived_outputs: tuple[DerivedOutput, ...] = ()
    class_names: tuple[str, ...] | None = None
    target: Mapping[str, Any] | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    library_versions: Mapping[str, str] = field(default_factory=dict)
    architecture: str = ""
    inputs: tuple[str, ...] = ()  # the features the model reads (empty: all of them)
    litert: LiteRTExport | None = None
    explain: Explanation | None = None  # reason attributions inside both exports
    # Each number's [lowest, highest] among the training rows: beyond them the model extrapolates.
    training_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # How each feature and output (`probabilities.standard`, `max_coverage`) was spread over the
    # training split: the reference live traffic is compared with for drift.
    reference: Mapping[str, Binned] = field(default_factory=dict)
    # The model card's words: what the model is for, and where it must not be trusted.
    intended_use: str = ""
    limitations: tuple[str, ...] = ()
    # How this version came to be served, oldest step first: each promotion or rollback that
    # re-published it under a new number (action, source_repository, source_version, by, at).
    provenance: tuple[Mapping[str, Any], ...] = ()
    version: int | None = None  # given at publication
    files: Mapping[str, str] = field(default_factory=dict)  # relative path -> sha256
    format_version: int = FORMAT_VERSION

    def output(self, name: str) -> OutputSpec:
        """Return the declared output called `name`."""
        return next(o for o in self.outputs if o.name == name)

    def reads(self) -> tuple[str, ...]:
        """The features the model reads: its declared inputs, or every feature."""
        return self.inputs or tuple(f.name for f in self.features)

    def derived_specs(self) -> tuple[OutputSpec, ...]:
        """Describe each derived output as an output."""
        return tuple(d.spec(self.output(d.source)) for d in self.derived_outputs)

    def to_json(self) -> dict[str, Any]:
        """Return the metadata.json form, without its digest (contract.artifact adds it)."""
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "description": self.description,
            "created_at": self.created_at,
            "features": [f.to_json() for f in self.features],
            "prohibited_fields": self.prohibited.to_json(),
            "signature": self.signature.to_json(),
            "outputs": [o.to_json() for o in self.outputs],
            "derived_outputs": [d.to_json() for d in self.derived_outputs],
        }
        if self.class_names is not None:
            out["class_names"] = list(self.class_names)
        if self.target is not None:
            out["target"] = dict(self.target)
        out |= {
            "metrics": dict(self.metrics),
            "training": dict(self.training),
            "library_versions": dict(self.library_versions),
            "architecture": self.architecture,
        }
        if self.inputs:
            out["inputs"] = list(self.inputs)
        if self.litert is not None:
            out["litert"] = self.litert.to_json()
        if self.explain is not None:
            out["explain"] = self.explain.to_json()
        if self.training_ranges:
            out["training_ranges"] = {k: list(v) for k, v in self.training_ranges.items()}
        if self.reference:
            out["reference"] = references_to_json(self.reference)
        if self.intended_use:
            out["intended_use"] = self.intended_use
        if self.limitations:
            out["limitations"] = list(self.limitations)
        if self.provenance:
            out["provenance"] = [dict(step) for step in self.provenance]
        out["files"] = dict(self.files)
        return out

    @classmethod
    def from_json(cls, raw: Any) -> ModelMetadata:
        """Parse metadata.json's content, refusing anything serving could not rely on."""
        if not isinstance(raw, Mapping):
            raise ContractError("metadata.json is not an object")
        raw = upgrade(raw)
        if missing := [key for key in REQUIRED_KEYS if key not in raw]:
            raise ContractError(f"metadata.json lacks {missing}")
        if raw["format_version"] != FORMAT_VERSION:
            raise ContractError(f"unsupported format_version {raw['format_version']!r}")
        if raw["task"] not in TASKS:
            raise ContractError(f"unknown task {raw['task']!r}")
        features = tuple(Feature.from_json(f) for f in _list(raw, "features"))
        outputs = tuple(OutputSpec.from_json(o) for o in _list(raw, "outputs"))
        derived = tuple(DerivedOutput.from_json(d, outputs) for d in _list(raw, "derived_outputs"))
        metadata = cls(
            name=_text(raw, "name"),
            task=raw["task"],
            description=str(raw.get("description", "")),
            created_at=str(raw.get("created_at", "")),
            features=features,
            outputs=outputs,
            signature=_signature(raw["signature"]),
            prohibited=ProhibitedFields.from_json(raw.get("prohibited_fields")),
            derived_outputs=derived,
            class_names=_class_names(raw),
            target=_optional_mapping(raw, "target"),
            metrics=_mapping(raw, "metrics"),
            training=_mapping(raw, "training"),
            library_versions=_mapping(raw, "library_versions"),
            architecture=str(raw.get("architecture", "")),
            inputs=tuple(_names(raw, "inputs")),
            litert=None if raw.get("litert") is None else LiteRTExport.from_json(raw["litert"]),
            explain=None if raw.get("explain") is None else Explanation.from_json(raw["explain"]),
            training_ranges=_ranges(raw.get("training_ranges", {})),
            reference=references_from_json(raw.get("reference", {})),
            intended_use=str(raw.get("intended_use", "")),
            limitations=tuple(str(item) for item in _list(raw, "limitations")),
            provenance=_provenance(_list(raw, "provenance")),
            version=_version(raw["version"]),
            files=_mapping(raw, "files"),
        )
        _check_consistent(metadata)
        return metadata


def reference_names(metadata: ModelMetadata) -> list[str]:
    """What a reference distribution may describe: each feature, each output or labelled entry."""
    names = [f.name for f in metadata.features]
    for output in metadata.outputs:
        if output.labels is not None:
            names += [f"{output.name}.{label}" for label in output.labels]
        else:
            names.append(output.name)
    return names


def _ranges(raw: Any) -> dict[str, tuple[float, float]]:
    """Parse `training_ranges`: feature -> [lowest, highest], finite, lowest <= highest."""
    if not isinstance(raw, Mapping):
        raise ContractError("training_ranges is not an object")
    ranges = {}
    for name, bounds in raw.items():
        numeric = (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b)
                for b in bounds
            )
        )
        if not numeric or bounds[0] > bounds[1]:
            raise ContractError(f"training_ranges[{name!r}] is not [lowest, highest]")
        ranges[str(name)] = (float(bounds[0]), float(bounds[1]))
    return ranges


def _check_consistent(metadata: ModelMetadata) -> None:
    """Refuse duplicate names and a signature that does not take the declared features."""
    for kind, names in (
        ("feature", [f.name for f in metadata.features]),
        ("output", [o.name for o in metadata.outputs] + [d.name for d in metadata.derived_outputs]),
    ):
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise ContractError(f"{kind} names appear more than once: {repeated}")
    if unknown := sorted(set(metadata.inputs) - {f.name for f in metadata.features}):
        raise ContractError(f"inputs name undeclared features: {unknown}")
    expected = Signature.for_features(metadata.features).inputs
    if dict(metadata.signature.inputs) != expected:
        differ = sorted(set(metadata.signature.inputs.items()) ^ set(expected.items()))
        raise ContractError(f"signature inputs do not match the declared features: {differ}")
    if metadata.litert is not None:
        layout = PackedLayout.of(metadata.features)
        declared = (metadata.litert.numbers, metadata.litert.categories)
        if declared != (layout.numbers, layout.category_names):
            raise ContractError("litert inputs do not pack the declared features")
    if metadata.explain is not None:
        _check_explain(metadata, metadata.explain)
    numbers = {f.name for f in metadata.features if f.type in ("integer", "number")}
    if stray := sorted(set(metadata.training_ranges) - numbers):
        raise ContractError(f"training_ranges name features that are not numbers: {stray}")
    if stray := sorted(set(metadata.reference) - set(reference_names(metadata))):
        raise ContractError(f"reference names no feature or output: {stray}")
    labelled = [o.labels for o in metadata.outputs if o.labels is not None]
    if metadata.class_names is not None and tuple(metadata.class_names) not in labelled:
        raise ContractError("class_names match no labelled output")


def _check_explain(metadata: ModelMetadata, explain: Explanation) -> None:
    """Attributions only for features with a risk direction; targets sum declared classes."""
    directed = {f.name for f in metadata.features if f.risk is not None}
    if undirected := sorted(set(explain.features) - directed):
        raise ContractError(f"explain attributes features without a risk direction: {undirected}")
    classes = set(metadata.class_names or ())
    for name, summed in explain.targets.items():
        if unknown := sorted(set(summed) - classes):
            raise ContractError(f"explain target {name!r} sums undeclared classes {unknown}")


def _optional_mapping(raw: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    return None if raw.get(key) is None else _mapping(raw, key)


def _signature(raw: Any) -> Signature:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("inputs"), Mapping):
        raise ContractError("signature is not an object with inputs")
    path = raw.get("path", SAVED_MODEL_DIR)
    if not isinstance(path, str) or not _PLAIN_NAME.fullmatch(path):
        raise ContractError(f"signature path {path!r} is not a directory name in the version")
    return Signature(
        str(raw.get("path", SAVED_MODEL_DIR)),
        str(raw.get("name", SIGNATURE_NAME)),
        dict(raw["inputs"]),
    )


def _names(raw: Mapping[str, Any], key: str) -> list[str]:
    names = _list(raw, key)
    if not all(isinstance(name, str) for name in names):
        raise ContractError(f"{key} must list names")
    return names


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ContractError(f"{key} is not a list")
    return value


PROVENANCE_KEYS = ("action", "source_repository", "source_version", "by", "at")


def _provenance(steps: list[Any]) -> tuple[dict[str, Any], ...]:
    """Parse `provenance`: objects naming at least PROVENANCE_KEYS."""
    for step in steps:
        if not isinstance(step, Mapping) or not all(key in step for key in PROVENANCE_KEYS):
            raise ContractError(f"provenance steps are objects with {list(PROVENANCE_KEYS)}")
    return tuple(dict(step) for step in steps)


def _mapping(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ContractError(f"{key} is not an object")
    return dict(value)


def _text(raw: Mapping[str, Any], key: str) -> str:
    if not isinstance(raw[key], str) or not raw[key]:
        raise ContractError(f"{key} is not a non-empty string")
    return str(raw[key])


def _version(value: Any) -> int | None:
    if value is not None and (type(value) is not int or value < 0):
        raise ContractError(f"version {value!r} is not a non-negative integer")
    return value


def _class_names(raw: Mapping[str, Any]) -> tuple[str, ...] | None:
    names = raw.get("class_names")
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ContractError("class_names is not a list of strings")
    return tuple(names)
