"""The trained models behave like underwriting, checked through what the service runs (LiteRT).

Paired applicants that differ in one factor, over each factor's whole declared range, on a seed
the training never saw (training/audit.py): no worse factor lowers the risk or raises the offer;
money never moves the class; coverage follows income, wealth and cover in force the way the
guidelines do and never exceeds the retention limit. These replace a tolerance of one point of
probability the earlier, unconstrained networks needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from contract.artifact import read_artifact
from training import audit
from training.features import FEATURES
from training.guidelines import COVERAGE_CAP
from training.packing import pack_numpy
from training.synthetic import coverage_for_class, generate
from training.synthetic.rating import knock_outs

APPLICANTS = 10_000  # base applicants: at least 10,000 pairs per factor
SEED = 31_337  # not a training seed


def litert_scorer(version_dir: Path) -> audit.Scorer:
    """Score raw columns with a version's LiteRT export, packed as the service packs them."""
    runner = Interpreter(model_path=str(version_dir / "model.tflite")).get_signature_runner(
        "serving_default"
    )

    def score(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        numbers, categories = pack_numpy(columns)
        out: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(numbers), 50_000):  # bounded interpreter tensors
            chunk = runner(
                numbers=numbers[start : start + 50_000],
                categories=categories[start : start + 50_000],
            )
            for name, values in chunk.items():
                out.setdefault(name, []).append(values)
        return {name: np.concatenate(parts) for name, parts in out.items()}

    return score


@pytest.fixture(scope="module")
def applicants() -> dict[str, np.ndarray]:
    return generate(APPLICANTS, SEED).features


@pytest.fixture(scope="module")
def classifier(trained_models_dir: Path) -> audit.Scorer:
    return litert_scorer(trained_models_dir / "risk_class" / "1")


@pytest.fixture(scope="module")
def coverage(trained_models_dir: Path) -> audit.Scorer:
    return litert_scorer(trained_models_dir / "max_coverage" / "1")


@pytest.fixture(scope="module")
def risk_audit(classifier: audit.Scorer, applicants: dict[str, np.ndarray]) -> dict[str, Any]:
    return audit.risk_factors(classifier, applicants)


@pytest.fixture(scope="module")
def coverage_audit(coverage: audit.Scorer, applicants: dict[str, np.ndarray]) -> dict[str, Any]:
    return audit.risk_factors(coverage, applicants)


DIRECTED = [f.name for f in FEATURES if f.risk is not None]


@pytest.mark.parametrize("factor", DIRECTED)
def test_a_worse_factor_never_lowers_the_risk(risk_audit: dict[str, Any], factor: str) -> None:
    found = risk_audit[factor]
    assert found["pairs"] >= 10_000
    assert found["worst_non_standard_fall"] <= audit.PROBABILITY_TOLERANCE
    assert found["worst_decline_fall"] <= audit.PROBABILITY_TOLERANCE


@pytest.mark.parametrize("factor", DIRECTED)
def test_every_factor_matters(
    risk_audit: dict[str, Any], coverage_audit: dict[str, Any], factor: str
) -> None:
    """Monotone is not enough: a model that ignored a factor would pass the tests above."""
    assert risk_audit[factor]["mean_non_standard_rise"] > 0.01
    assert coverage_audit[factor]["mean_coverage_fall"] > 0.0


@pytest.mark.parametrize("factor", DIRECTED)
def test_a_worse_factor_never_raises_the_offer(coverage_audit: dict[str, Any], factor: str) -> None:
    found = coverage_audit[factor]
    assert found["pairs"] >= 10_000
    assert found["worst_coverage_rise"] <= audit.COVERAGE_TOLERANCE


def test_money_never_moves_the_risk_class(
    classifier: audit.Scorer, applicants: dict[str, np.ndarray]
) -> None:
    for name, found in audit.money(classifier, applicants).items():
        assert found["largest_probability_change"] <= audit.PROBABILITY_TOLERANCE, name


def test_coverage_follows_income_wealth_and_cover_in_force(
    coverage: audit.Scorer, applicants: dict[str, np.ndarray]
) -> None:
    for name, found in audit.money(coverage, applicants).items():
        assert found["worst_coverage_reversal"] <= audit.COVERAGE_TOLERANCE, name


def test_coverage_stays_within_the_retention_limit(
    coverage: audit.Scorer, applicants: dict[str, np.ndarray]
) -> None:
    limits = audit.coverage_limits(coverage, applicants)
    assert limits["above_cap"] == 0 and limits["below_zero"] == 0
    assert limits["highest"] <= COVERAGE_CAP


def test_the_network_itself_stays_within_the_retention_limit(
    trained_models_dir: Path, applicants: dict[str, np.ndarray]
) -> None:
    """Before the signature's clip: the limit is the network's, the clip only rounds."""
    import keras

    from training.networks import inputs_of
    from training.outputs import COVERAGE_SCALE
    from training.preprocessing import Preprocessor

    version = trained_models_dir / "max_coverage" / "1"
    network = keras.models.load_model(version / "model.keras", compile=False)
    preprocessor = Preprocessor.load(version)

    def unguarded(columns: audit.Columns) -> dict[str, np.ndarray]:
        encoded = inputs_of(network, preprocessor.encode_numpy(columns))
        millions = network.predict(encoded, batch_size=8192, verbose=0)[:, 0]
        return {"max_coverage": millions.astype(np.float64) * COVERAGE_SCALE}

    limits = audit.coverage_limits(unguarded, applicants)
    assert limits["above_cap"] == 0 and limits["below_zero"] == 0


def test_the_artifact_records_the_retention_limit(trained_models_dir: Path) -> None:
    """The service refuses a model whose output breaks its declared bounds, so declare them."""
    artifact = read_artifact(trained_models_dir / "max_coverage" / "1", "max_coverage", 1)
    declared = artifact.metadata.outputs[0]
    assert (declared.minimum, declared.maximum) == (0.0, COVERAGE_CAP)


def test_near_certain_declines_get_next_to_no_cover(
    classifier: audit.Scorer, coverage: audit.Scorer, applicants: dict[str, np.ndarray]
) -> None:
    """At most the share of the standard offer the other classes' probability allows."""
    decline = classifier(applicants)["probabilities"][:, -1].astype(np.float64)
    offered = coverage(applicants)["max_coverage"]
    standard_offer = coverage_for_class(applicants, np.zeros(len(decline), dtype=np.int64))
    certain = decline > 0.9
    assert certain.sum() >= 20
    allowed = (1.0 - decline) * standard_offer + 10_000  # + the offers' $10,000 steps
    capacity_ratio = offered[certain] / np.maximum(allowed[certain], 1.0)
    assert (capacity_ratio <= 1.25).all()  # the learned capacity may exceed the guideline's
    assert np.median(offered[certain] / np.maximum(standard_offer[certain], 1.0)) < 0.05


def test_knock_outs_are_rated_as_declines(classifier: audit.Scorer) -> None:
    """Learned from the data alone: the network is never told the rules' thresholds."""
    sample = generate(50_000, SEED + 1)
    knocked = knock_outs(sample.features)
    decline = classifier(sample.features)["probabilities"][:, -1]
    assert knocked.sum() >= 100
    assert np.median(decline[knocked]) > 0.5  # the trained defaults reach Bayes here (docs)
    assert np.median(decline[knocked]) > 10 * np.median(decline[~knocked])
