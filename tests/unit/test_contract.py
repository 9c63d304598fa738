"""The model contract: metadata.json parsed into typed objects, checked, sealed and documented."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from paths import REPO

from contract.artifact import is_version_name, list_versions, read_artifact, write_metadata
from contract.checksums import METADATA_FILE, metadata_digest
from contract.errors import ContractError
from contract.explanations import MIDPOINT, SEGMENTS, Explanation
from contract.features import Feature
from contract.metadata import LiteRTExport, ModelMetadata, Signature, Task
from contract.outputs import DerivedOutput, OutputSpec
from training import outputs
from training.features import CLASS_NAMES, FEATURES, PROHIBITED

TASKS: dict[str, Task] = {"risk_class": "classification", "max_coverage": "regression"}


EXPLANATION = Explanation(
    features=("systolic_bp", "hba1c"),
    targets={"non_standard": ("substandard", "decline"), "decline": ("decline",)},
    steps=50,
    relative_tolerance=0.02,
    absolute_tolerance=1e-3,
    checks={"complete_share": 1.0},
)


def metadata_of(name: str = "risk_class") -> ModelMetadata:
    """Metadata as training declares it, without a trained network."""
    declared = outputs.RISK_CLASS if name == "risk_class" else outputs.MAX_COVERAGE
    return ModelMetadata(
        name=name,
        task=TASKS[name],
        description="A model.",
        created_at="2026-12-01T00:00:00Z",
        features=FEATURES,
        outputs=declared.outputs,
        signature=Signature.for_features(FEATURES),
        prohibited=PROHIBITED,
        derived_outputs=declared.derived_outputs,
        class_names=declared.class_names,
        target=declared.target,
        metrics={"test": {"accuracy": 0.8}},
        training={"seed": 1},
        library_versions={"python": "3.11"},
        architecture="Dense layers.",
        litert=LiteRTExport.for_features(FEATURES, {"probe_records": 10}),
        version=4,
    )


@pytest.mark.parametrize("task", list(TASKS))
def test_metadata_survives_a_round_trip_through_json(task: str) -> None:
    metadata = metadata_of(task)
    text = json.dumps(metadata.to_json())
    assert ModelMetadata.from_json(json.loads(text)) == metadata


def test_features_keep_their_declared_shape_in_json() -> None:
    age, sex, treated = (
        next(f for f in FEATURES if f.name == n) for n in ("age", "sex", "bp_treatment")
    )
    start = ["name", "type", "unit"]
    assert list(age.to_json()) == [*start, "minimum", "maximum", "description", "role"]
    assert list(sex.to_json()) == [*start, "categories", "category_labels", "description", "role"]
    assert list(treated.to_json()) == [*start, "description", "role", "risk"]
    assert list(treated.to_json()["risk"]) == ["worse", "reason"]


def test_every_declared_category_has_its_own_words() -> None:
    """Letters and the card speak to people: each category of the declaration has a label,
    its own within the feature, written as words (never a code with underscores)."""
    categorical = [f for f in FEATURES if f.type == "category"]
    assert categorical
    for feature in categorical:
        labels = feature.category_labels
        assert labels is not None and len(labels) == len(feature.categories or ()), feature.name
        assert len(set(labels)) == len(labels), feature.name
        for code, words in zip(feature.categories or (), labels, strict=True):
            assert feature.label(code) == words
            assert "_" not in words and words[:1].isupper() and words.strip() == words, words


def test_labels_travel_in_metadata_and_older_metadata_reads_without_them() -> None:
    by_name = {f.name: f for f in FEATURES}
    raw = by_name["diabetes"].to_json()
    assert raw["category_labels"] == {"none": "None", "type_1": "Type 1", "type_2": "Type 2"}
    assert raw["categories"] == ["none", "type_1", "type_2"]  # the codes, as the API speaks
    assert Feature.from_json(raw) == by_name["diabetes"]
    # A version published before labels existed: read as it was, its codes made readable.
    for name, code, words in [
        ("diabetes", "type_2", "Type 2"),
        ("tobacco_use", "former_1_5y", "Former 1-5 years"),
        ("cancer_history", "remission_over_5y", "Remission over 5 years"),
        ("occupation_hazard", "high", "High"),
    ]:
        older = {k: v for k, v in by_name[name].to_json().items() if k != "category_labels"}
        assert Feature.from_json(older).category_labels is None
        assert Feature.from_json(older).label(code) == words


@pytest.mark.parametrize(
    "labels",
    [
        {"none": "None", "type_1": "Type 1"},  # a category left without words
        {"none": "None", "type_1": "Type 1", "type_2": "Type 2", "type_3": "Type 3"},
        {"none": "None", "type_1": "Type 1", "type_2": " "},
        {"none": "None", "type_1": "Diabetes", "type_2": "Diabetes"},  # which one?
        ["None", "Type 1", "Type 2"],
    ],
)
def test_labels_that_do_not_name_each_category_once_are_refused(labels: Any) -> None:
    raw = next(f for f in FEATURES if f.name == "diabetes").to_json() | {"category_labels": labels}
    with pytest.raises(ContractError, match="category_labels give each category its own words"):
        Feature.from_json(raw)
    age = next(f for f in FEATURES if f.name == "age").to_json()
    with pytest.raises(ContractError, match="category_labels"):
        Feature.from_json(age | {"category_labels": {}})


def test_risk_directions_are_declared_and_checked() -> None:
    by_name = {f.name: f for f in FEATURES}
    assert by_name["annual_income"].risk is None and by_name["annual_income"].role == "financial"
    diabetes = by_name["diabetes"].risk
    assert diabetes is not None and diabetes.order == ("none", "type_2", "type_1")
    weight = by_name["weight_kg"].risk
    assert weight is not None and weight.where == ("bmi", 25.0) and weight.reason
    raw = by_name["diabetes"].to_json()
    for broken, reason in [
        ({"worse": "higher"}, "only categories"),
        ({"worse": "later", "order": ["none", "type_1"]}, "every category"),
        ({"worse": "sideways"}, "worse"),
        ({"worse": "later", "where": {"measure": "iq", "at_least": 1}}, "where"),
    ]:
        with pytest.raises(ContractError, match=reason):
            Feature.from_json(raw | {"risk": broken})
    with pytest.raises(ContractError, match="role"):
        Feature.from_json(raw | {"role": "astrological"})


def test_derived_class_takes_the_labels_of_its_source() -> None:
    metadata = metadata_of("risk_class")
    (derived,) = metadata.derived_specs()
    assert (derived.name, derived.dtype, derived.shape) == ("risk_class", "string", (-1,))
    assert derived.values == CLASS_NAMES


def _broken(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(metadata_of().to_json())
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m.pop("outputs"), "lacks"),
        (lambda m: m.update(format_version=3), "format_version"),
        (lambda m: m.update(task="ranking"), "unknown task"),
        (lambda m: m.update(version="3"), "version"),
        (lambda m: m["features"][0].update(type="date"), "unknown type"),
        (lambda m: m["features"][1].pop("categories"), "categories"),
        (lambda m: m["features"][0].update(minimum="18"), "minimum and maximum"),
        (lambda m: m["features"].append(dict(m["features"][0])), "more than once"),
        (lambda m: m["signature"]["inputs"].update(age="float64"), "signature inputs"),
        (lambda m: m["outputs"][0].update(shape=[3]), "shape"),
        (lambda m: m["outputs"][0].update(dtype="float16"), "dtype"),
        (lambda m: m["outputs"][0].update(labels=["a", "b"]), "labels"),
        (lambda m: m["derived_outputs"][0].update(rule="median"), "unknown rule"),
        (lambda m: m["derived_outputs"][0].update(source="nothing"), "source"),
        (lambda m: m.update(class_names=["x", "y", "z"]), "class_names"),
        (lambda m: m.update(prohibited_fields={"protected": "race"}), "prohibited_fields"),
        (lambda m: m.pop("files"), "lacks"),
        (lambda m: m.update(target="USD"), "target"),
        (lambda m: m["signature"].update(path="../../etc"), "signature path"),
        (lambda m: m["signature"].update(path="."), "signature path"),
        (lambda m: m["outputs"][0].update(dtype="string"), "derived output"),
        (lambda m: m["outputs"][0].update(shape=[-1, 0]), "shape"),
        (lambda m: m["outputs"][0].update(minimum="0"), "minimum must be a number"),
        (lambda m: m.update(litert={"path": "/tmp/x.tflite", "inputs": {}}), "litert"),
    ],
)
def test_metadata_that_serving_cannot_rely_on_is_refused(change: Any, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        ModelMetadata.from_json(_broken(change))


def as_format_1(metadata: ModelMetadata) -> dict[str, Any]:
    """The same metadata as format 1 wrote it: outputs without labels or bounds, nothing derived."""
    raw = metadata.to_json()
    raw["format_version"] = 1
    for key in ("derived_outputs", "litert"):
        raw.pop(key, None)
    raw["outputs"] = [
        {k: o[k] for k in ("name", "dtype", "shape", "description")} for o in raw["outputs"]
    ]
    return raw


def test_format_1_metadata_is_read_with_its_conventions_declared() -> None:
    classifier = ModelMetadata.from_json(as_format_1(metadata_of("risk_class")))
    assert classifier.format_version == 2
    (probabilities,) = classifier.outputs
    assert probabilities.labels == CLASS_NAMES and probabilities.row_sum == 1.0
    assert [d.name for d in classifier.derived_outputs] == ["risk_class"]
    assert classifier.derived_specs()[0].values == CLASS_NAMES
    regressor = ModelMetadata.from_json(as_format_1(metadata_of("max_coverage")))
    assert regressor.outputs[0].minimum == 0.0 and regressor.derived_outputs == ()
    assert regressor.litert is None


def _written(tmp_path: Path, metadata: ModelMetadata) -> Path:
    version_dir = tmp_path / metadata.name / str(metadata.version)
    (version_dir / "saved_model").mkdir(parents=True)
    (version_dir / "saved_model" / "saved_model.pb").write_bytes(b"graph")
    (version_dir / "model.tflite").write_bytes(b"flatbuffer")
    write_metadata(version_dir, metadata)
    return version_dir


def test_an_artifact_is_read_back_exactly_as_written(tmp_path: Path) -> None:
    metadata = metadata_of()
    version_dir = _written(tmp_path, metadata)
    artifact = read_artifact(version_dir, "risk_class", 4)
    assert artifact.metadata.features == metadata.features
    assert artifact.metadata.files.keys() == {"saved_model/saved_model.pb", "model.tflite"}
    assert artifact.signature_path == version_dir / "saved_model"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda d: (d / "saved_model" / "saved_model.pb").write_bytes(b"other"), "sha256"),
        (lambda d: (d / "saved_model" / "extra.pb").write_bytes(b"x"), "not listed"),
        (lambda d: (d / "saved_model" / "saved_model.pb").unlink(), "missing"),
        (lambda d: _edit(d, lambda m: m.update(class_names=CLASS_NAMES[::-1])), "changed after"),
        (lambda d: (d / METADATA_FILE).write_text("{"), "unreadable"),
        (lambda d: _edit(d, _drop_tflite), "not among the files"),
    ],
)
def test_a_changed_artifact_is_refused(tmp_path: Path, tamper: Any, reason: str) -> None:
    version_dir = _written(tmp_path, metadata_of())
    tamper(version_dir)
    with pytest.raises(ContractError, match=reason):
        read_artifact(version_dir, "risk_class", 4)


def _drop_tflite(raw: dict[str, Any]) -> None:
    """Unlist the LiteRT file and seal the metadata again, as a careless edit might."""
    del raw["files"]["model.tflite"]
    raw["metadata_sha256"] = metadata_digest(raw)


def _edit(version_dir: Path, change: Any) -> None:
    raw = json.loads((version_dir / METADATA_FILE).read_text())
    change(raw)
    (version_dir / METADATA_FILE).write_text(json.dumps(raw))


def test_an_artifact_in_another_directory_is_refused(tmp_path: Path) -> None:
    version_dir = _written(tmp_path, metadata_of())
    with pytest.raises(ContractError, match="directory"):
        read_artifact(version_dir, "risk_class", 5)


def test_a_resealed_edit_is_read(tmp_path: Path) -> None:
    version_dir = _written(tmp_path, metadata_of())
    raw = json.loads((version_dir / METADATA_FILE).read_text())
    raw["description"] = "Edited, then sealed again."
    raw["metadata_sha256"] = metadata_digest(raw)
    (version_dir / METADATA_FILE).write_text(json.dumps(raw))
    assert read_artifact(version_dir, "risk_class", 4).metadata.description == raw["description"]


def test_only_ascii_digit_directories_with_metadata_are_versions(tmp_path: Path) -> None:
    model_dir = tmp_path / "risk_class"
    for name in ("1", "12", "²", "٣", "latest", ".tmp-3-abc", "7"):
        (model_dir / name).mkdir(parents=True)
        (model_dir / name / METADATA_FILE).write_text("{}")
    (model_dir / "9").mkdir()  # no metadata.json: incomplete
    assert list_versions(model_dir) == [12, 7, 1]
    assert [is_version_name(n) for n in ("0", "42", "²", "٣", "-1", "")] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_models_readme_names_every_key_the_contract_writes() -> None:
    readme = (REPO / "models" / "README.md").read_text()
    section = readme[readme.index("## metadata.json (contract)") :]
    documented = set(re.findall(r'"([a-z_0-9]+)"', section))
    metadata = metadata_of().to_json()
    output = OutputSpec("o", "float32", (-1, 2), "d", ("a", "b"), ("x",), 0.0, 1.0, 1.0)
    derived = DerivedOutput("c", "o", "argmax", "d")
    written = (
        set(metadata)
        | {"metadata_sha256"}
        | {key for f in FEATURES for key in f.to_json()}
        | set(PROHIBITED.to_json())
        | set(Signature.for_features(FEATURES).to_json())
        | set(output.to_json())
        | set(derived.to_json())
        | set(metadata["litert"])
        | set(metadata["litert"]["inputs"])
        | {key for f in FEATURES if f.risk for key in f.risk.to_json()}
        | {"measure", "at_least"}
        | set(EXPLANATION.to_json())
        | set(EXPLANATION.to_json()["tolerance"])
    )
    assert written - documented == set()


def test_metadata_the_service_would_refuse_is_not_written(tmp_path: Path) -> None:
    metadata = metadata_of()
    broken = dataclasses.replace(
        metadata, derived_outputs=(DerivedOutput("risk_class", "missing", "argmax", "d"),)
    )
    with pytest.raises(ContractError, match="source"):
        _written(tmp_path, broken)
    assert not (tmp_path / "risk_class" / "4" / METADATA_FILE).exists()


def test_an_explain_declaration_reads_back_and_judges_completeness() -> None:
    metadata = dataclasses.replace(metadata_of(), explain=EXPLANATION)
    again = ModelMetadata.from_json(json.loads(json.dumps(metadata.to_json())))
    assert again.explain == EXPLANATION
    assert EXPLANATION.complete(0.30, 0.305)  # 0.005 <= 0.001 + 0.02 * 0.305
    assert not EXPLANATION.complete(0.28, 0.305)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"features": ["sex"]}, "without a risk direction"),
        ({"targets": {"bad": ["platinum"]}}, "undeclared classes"),
        ({"targets": {"difference": ["decline"]}}, "may not be called"),
        ({"steps": 0}, "steps"),
        ({"steps": 50.0}, "steps"),
        ({"tolerance": {"relative": 2, "absolute": 0}}, "[0, 1)"),
        ({"tolerance": {"relative": True, "absolute": 0}}, "numbers"),
        ({"features": []}, "list feature names"),
        ({"integration": "trapezoid"}, "integration must be one of"),
    ],
)
def test_a_bad_explain_declaration_is_refused(change: dict[str, Any], message: str) -> None:
    raw = dataclasses.replace(metadata_of(), explain=EXPLANATION).to_json()
    raw["explain"] |= change
    with pytest.raises(ContractError, match=re.escape(message)):
        ModelMetadata.from_json(raw)


def test_the_path_points_follow_the_declared_integration() -> None:
    segments = dataclasses.replace(EXPLANATION, steps=4, integration=SEGMENTS)
    assert segments.points().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert segments.points(8)[[0, -1]].tolist() == [0.0, 1.0] and len(segments.points(8)) == 9
    midpoint = dataclasses.replace(EXPLANATION, steps=4)
    assert midpoint.points().tolist() == [0.125, 0.375, 0.625, 0.875]
    # A model published before segments declares none: its signature takes midpoints.
    raw = dataclasses.replace(metadata_of(), explain=segments).to_json()
    assert raw["explain"]["integration"] == SEGMENTS
    assert ModelMetadata.from_json(raw).explain == segments
    del raw["explain"]["integration"]
    explain = ModelMetadata.from_json(raw).explain
    assert explain is not None and explain.integration == MIDPOINT


def test_a_risk_reference_is_a_number_of_a_number_feature() -> None:
    systolic = next(f for f in FEATURES if f.name == "systolic_bp").to_json()
    assert systolic["risk"]["reference"] == 130
    assert Feature.from_json(systolic).risk.reference == 130  # type: ignore[union-attr]
    flag = next(f for f in FEATURES if f.type == "boolean").to_json()
    with pytest.raises(ContractError, match="only numbers declare a risk reference"):
        Feature.from_json(flag | {"risk": flag["risk"] | {"reference": 1}})
    with pytest.raises(ContractError, match="a flag is worse when true"):
        Feature.from_json(flag | {"risk": flag["risk"] | {"worse": "lower"}})
    with pytest.raises(ContractError, match="reference must be a number"):
        Feature.from_json(systolic | {"risk": systolic["risk"] | {"reference": "130"}})
