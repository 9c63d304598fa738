"""The training command end to end: artifacts, metrics, report, versioning, equivalence."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from csv_files import run_training, write_csv

from training.features import CLASS_NAMES, FEATURES
from training.guidelines import COVERAGE_CAP
from training.networks import inputs_of
from training.outputs import COVERAGE_SCALE
from training.packing import to_tensors
from training.preprocessing import Preprocessor
from training.synthetic import generate

CLASSIFIER_METRICS = {
    "accuracy",
    "log_loss",
    "macro_f1",
    "confusion_matrix",
    "ece",
    "calibration",
    "bayes_log_loss",
    "bayes_accuracy",
    "baseline_log_loss",
    "baseline_accuracy",
}
REGRESSOR_METRICS = {"mae", "rmse", "r2", "bayes_rmse", "baseline_rmse"}


def _metadata(models_dir: Path, name: str, version: int = 1) -> dict:
    return json.loads((models_dir / name / str(version) / "metadata.json").read_text())


def test_both_models_are_published_with_every_metric(trained_models_dir: Path) -> None:
    risk = _metadata(trained_models_dir, "risk_class")
    coverage = _metadata(trained_models_dir, "max_coverage")
    assert CLASSIFIER_METRICS <= risk["metrics"]["test"].keys()
    assert REGRESSOR_METRICS <= coverage["metrics"]["test"].keys()
    assert risk["class_names"] == list(CLASS_NAMES)
    for metadata in (risk, coverage):
        assert metadata["version"] == 1
        assert metadata["features"] == [f.to_json() for f in FEATURES]
        assert metadata["training"]["data"]["fingerprint"].startswith("sha256:")
        assert {"tensorflow", "keras", "numpy", "python"} <= metadata["library_versions"].keys()
        assert "race" in metadata["prohibited_fields"]["protected"]


def test_every_feature_and_output_has_its_training_distribution(trained_models_dir: Path) -> None:
    from contract.artifact import read_artifact

    for name, outputs in (
        ("risk_class", [f"probabilities.{c}" for c in CLASS_NAMES]),
        ("max_coverage", ["max_coverage"]),
    ):
        metadata = read_artifact(trained_models_dir / name / "1", name, 1).metadata
        assert list(metadata.reference) == [f.name for f in FEATURES] + outputs
        train = generate(20_000, 7)  # a fresh draw from the same generator: no drift
        tobacco = metadata.reference["tobacco_use"]
        assert tobacco.values == ("never", "former_over_5y", "former_1_5y", "current")
        for feature in ("age", "systolic_bp", "tobacco_use", "bp_treatment", "annual_income"):
            binned = metadata.reference[feature]
            assert binned.psi(binned.counts(train.features[feature])) < 0.02, feature
        age = metadata.reference["age"]
        assert age.edges is not None and len(age.proportions) == 10


def test_metrics_are_consistent_with_the_confusion_matrix(trained_models_dir: Path) -> None:
    test = _metadata(trained_models_dir, "risk_class")["metrics"]["test"]
    matrix = np.asarray(test["confusion_matrix"])
    assert matrix.sum() == test["rows"]
    assert np.trace(matrix) / matrix.sum() == test["accuracy"]
    # The Bayes optimum is a floor no model should beat by much on a few thousand rows.
    assert test["log_loss"] > 0.95 * test["bayes_log_loss"]


def test_checksums_cover_every_file(trained_models_dir: Path) -> None:
    for name in ("risk_class", "max_coverage"):
        version_dir = trained_models_dir / name / "1"
        files = _metadata(trained_models_dir, name)["files"]
        on_disk = {
            p.relative_to(version_dir).as_posix()
            for p in version_dir.rglob("*")
            if p.is_file() and p.name != "metadata.json"
        }
        assert set(files) == on_disk
        for relative, digest in files.items():
            assert hashlib.sha256((version_dir / relative).read_bytes()).hexdigest() == digest


def test_report_and_plots_are_written(trained_models_dir: Path) -> None:
    risk_dir = trained_models_dir / "risk_class" / "1"
    coverage_dir = trained_models_dir / "max_coverage" / "1"
    expected = [
        risk_dir / "training_curves.png",
        risk_dir / "reliability.png",
        risk_dir / "confusion_matrix.png",
        coverage_dir / "training_curves.png",
        coverage_dir / "predicted_vs_actual.png",
    ]
    for png in expected:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    report = (risk_dir / "report.md").read_text()
    assert "# risk_class — version 1" in report
    assert "Bayes optimum" in report and "How the synthetic applicants are generated" in report
    assert "![reliability diagram](reliability.png)" in report


def test_summary_table_is_printed(training_run: tuple[Path, subprocess.CompletedProcess]) -> None:
    output = training_run[1].stdout
    assert "Bayes" in output and "baseline" in output
    assert "training time:" in output
    assert "log_loss" in output and "rmse" in output


def test_the_command_prints_no_cuda_noise_without_a_gpu(
    training_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    """TensorFlow's CUDA stubs print "Could not find cuda drivers" and "failed call to cuInit"
    on a machine without a GPU; the command drops them (training.quiet_start). The session's
    training run is `python -m training` into a temporary directory: no second run needed."""
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present: CUDA's lines are news here, and are printed")
    stderr = training_run[1].stderr
    noise = [line for line in stderr.splitlines() if re.search(r"cuda|cuInit|absl", line, re.I)]
    assert noise == [], stderr[-3000:]


def test_the_command_prints_no_litert_notice(
    training_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    """The LiteRT checks of the exports run without LiteRT's delegate notice on stderr."""
    assert "XNNPACK" not in training_run[1].stderr, training_run[1].stderr[-3000:]


def _records(rows: int, seed: int) -> dict[str, np.ndarray]:
    return generate(rows, seed).features


def test_saved_model_equals_the_training_pipeline(trained_models_dir: Path) -> None:
    columns = _records(64, seed=123)
    for name, output in (("risk_class", "probabilities"), ("max_coverage", "max_coverage")):
        version_dir = trained_models_dir / name / "1"
        network = keras.models.load_model(version_dir / "model.keras", compile=False)
        encoded = Preprocessor.load(version_dir).encode_numpy(columns)
        offline = np.asarray(network(inputs_of(network, encoded), training=False))
        if name == "max_coverage":
            offline = np.clip(offline[:, 0] * COVERAGE_SCALE, 0.0, COVERAGE_CAP)
        signature = tf.saved_model.load(str(version_dir / "saved_model")).signatures[
            "serving_default"
        ]
        served = signature(**to_tensors(columns))[output].numpy()
        np.testing.assert_allclose(served, offline, rtol=1e-5, atol=1e-3)


def test_training_on_a_csv_publishes_without_the_bayes_comparison(tmp_path: Path) -> None:
    """A user's file with a race column, named for the fairness report and nothing else."""
    path = tmp_path / "applicants.csv"
    write_csv(path, 1500, group_column="race")
    models = tmp_path / "models"
    result = run_training(
        "--data",
        str(path),
        "--epochs",
        "2",
        "--models-dir",
        str(models),
        "--fairness-column",
        "race",
        "--owner",
        "Model Risk, Example Life",
        "--validation-date",
        "2026-11-30",
        "--publish-anyway",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    risk = json.loads((models / "risk_class" / "1" / "metadata.json").read_text())
    assert risk["training"]["data"]["source"] == "csv"
    assert "log_loss" in risk["metrics"]["test"]
    assert "bayes_log_loss" not in risk["metrics"]["test"]
    report = (models / "risk_class" / "1" / "report.md").read_text()
    assert "How the synthetic applicants are generated" not in report
    assert "| log_loss |" in report and "| n/a |" in report
    # The group column reached the fairness report only: never a feature, never an input.
    fairness = risk["metrics"]["fairness"]
    assert fairness["ran"] and fairness["column"] == "race"
    assert set(fairness["groups"]) == {"group_a", "group_b"}
    assert fairness["controls"] == ["age", "sex", "tobacco_use", "face_amount"]
    assert "race" not in json.dumps(
        [risk["features"], risk["signature"], risk["inputs"], risk["litert"], risk["reference"]]
    )
    assert "## Fairness" in report and "by `race`" in report
    assert risk["training"]["owner"] == "Model Risk, Example Life"
    assert risk["training"]["validation_date"] == "2026-11-30"


def test_the_fairness_report_flags_a_built_in_disparity_and_not_the_default(
    trained_models_dir: Path, tmp_path: Path
) -> None:
    """The generator's group linked to health risk (a disparity) is flagged; mildly, it is not."""
    default = json.loads((trained_models_dir / "risk_class/1/metadata.json").read_text())
    fair = default["metrics"]["fairness"]
    assert fair["ran"] and fair["column"] == "synthetic_group"
    assert fair["flagged_groups"] == [], fair
    models = tmp_path / "models"
    result = run_training(
        "--rows",
        "6000",
        "--epochs",
        "4",
        "--group-disparity",
        "1.5",
        "--models-dir",
        str(models),
        "--publish-anyway",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[risk_class] fairness by synthetic_group; flagged: group_b" in result.stdout
    skewed = json.loads((models / "risk_class/1/metadata.json").read_text())["metrics"]
    b = skewed["fairness"]["groups"]["group_b"]
    assert skewed["fairness"]["flagged_groups"] == ["group_b"]
    assert b["air_flagged"] and b["adverse_impact_ratio"] < 0.80
    assert b["test_flagged"] and b["p_value"] < 0.05 and b["adjusted_gap"] >= 0.05
    coverage = json.loads((models / "max_coverage/1/metadata.json").read_text())["metrics"]
    assert coverage["fairness"]["groups"]["group_b"]["standardized_mean_difference"] < 0


def test_a_pair_below_the_targets_is_set_aside_not_published(tmp_path: Path) -> None:
    """The gate: a run too small to meet its targets exits non-zero naming what it missed, and
    publishes into the set-aside repository only; the fixture run published over it, recorded."""
    models = tmp_path / "models"
    result = run_training("--rows", "2000", "--epochs", "1", "--models-dir", str(models))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "check(s) of the publication gate failed" in result.stderr
    assert "--publish-anyway" in result.stderr
    assert "  - risk_class: log_loss on the fresh seed: MISSED" in result.stdout
    assert not models.exists() or not any(models.rglob("metadata.json"))
    set_aside = tmp_path / "models-set-aside"
    for name in ("risk_class", "max_coverage"):
        gate = _metadata(set_aside, name)["training"]["gate"]
        assert gate["passed"] is False and gate["published_anyway"] is False
        assert any(failure.startswith("risk_class: ") for failure in gate["failures"])
        report = (set_aside / name / "1" / "report.md").read_text()
        assert "## Publication gate\n\nFAILED. Not published" in report
    assert "publication gate: FAILED (set aside" in result.stdout


def test_a_pair_published_over_the_gate_says_so(trained_models_dir: Path) -> None:
    from contract.artifact import read_artifact
    from contract.card import card_markdown, model_card

    for name in ("risk_class", "max_coverage"):
        artifact = read_artifact(trained_models_dir / name / "1", name, 1)
        gate = artifact.metadata.training["gate"]
        assert gate["passed"] is False and gate["published_anyway"] is True, gate
        card = model_card(artifact.metadata)
        assert card["publication_gate"] == gate
        assert any(line.startswith("Published over a failed") for line in card["limitations"])
        assert "- Publication gate: FAILED, published anyway" in card_markdown(card)
