"""Drift tracking against the artifacts' reference distributions, in one process.

- Live records fall in the same bins as contract.reference puts them (the training semantics),
  for every feature and output, under both packings.
- The window forgets exactly the oldest records, whatever the request sizes.
- The scrape gives a small PSI for records like training and a large one for a shifted
  population, only for the variables that moved, and none for a servable without traffic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from metrics_support import parse_exposition, total
from service_support import applicant_columns, columns_to_rows

from contract.reference import PSI_ACT, PSI_INVESTIGATE


@pytest.fixture(scope="module")
def underwriting(app: Any) -> Any:
    from service.app import STORE_KEY

    return app.extensions[STORE_KEY].serving()["underwriting"]


def scored(servable: Any, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    from service.inference.packing import pack
    from service.inference.prediction import predict

    batch = pack(servable.packer, servable.validator.rows_valid(rows, len(rows)))
    return batch, predict(servable, batch)


def shifted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An older, heavier population: what a new distribution channel might bring."""
    return [
        row | {"age": min(row["age"] + 15, 85), "weight_kg": row["weight_kg"] + 20.0}
        for row in rows
    ]


def test_live_bins_are_the_reference_bins(underwriting: Any) -> None:
    from service.inference.packing import DtypeGroups
    from service.monitoring.drift import DriftLayout

    layout = DriftLayout(underwriting)
    rows = columns_to_rows(applicant_columns(600, seed=41))
    batch, prediction = scored(underwriting, rows)
    numbers, categories = underwriting.packer.numbers_and_indices(batch)
    bins = layout.bins(numbers, categories, prediction.outputs)
    counts = np.bincount(bins.ravel(), minlength=layout.total)
    # The TensorFlow runtime's packing regroups into the same bins.
    grouped = DtypeGroups.of(underwriting.features)
    assert np.array_equal(
        layout.bins(*grouped.numbers_and_indices(grouped.rows(rows)), prediction.outputs), bins
    )
    checked = set()
    for i, variable in enumerate(layout.variables):
        if variable.kind == "feature":
            values = [row[variable.name] for row in rows]
        else:
            source, _, label = variable.name.partition(".")
            output = prediction.outputs[source].reshape(len(rows), -1)
            column = underwriting.models[0].metadata.class_names.index(label) if label else 0
            values = output[:, column]
        expected = variable.binned.counts(values)
        found = counts[layout.offsets[i] : layout.offsets[i + 1]]
        assert np.array_equal(found, expected), variable.name
        checked.add(variable.name)
    assert {f.name for f in underwriting.features} < checked
    assert {"probabilities.decline", "max_coverage"} < checked


@pytest.mark.parametrize("sizes", [[1] * 150, [7, 1, 30, 2, 64, 1, 1, 5, 90], [100, 3, 250, 1]])
def test_the_window_holds_the_latest_records_in_blocks(sizes: list[int]) -> None:
    from service.monitoring.drift import DriftWindow

    class Layout:  # the window needs only the number of bins
        total = 48

    capacity = 64  # blocks of 7 records: the window holds the latest 63 to 69
    blocks = np.zeros((DriftWindow.BLOCKS, Layout.total), dtype=np.int64)
    window = DriftWindow(Layout(), capacity, blocks)  # type: ignore[arg-type]
    rng = np.random.default_rng(sum(sizes))
    seen = []
    for size in sizes:
        bins = np.stack([rng.integers(v * 12, v * 12 + 12, size) for v in range(4)], axis=1)
        window.add(bins.astype(np.intp))
        seen.append(bins)
        everything = np.concatenate(seen)
        held = int(window.counts[:12].sum())  # every record has one bin among the first 12
        full_blocks = (DriftWindow.BLOCKS - 1) * window.block_size
        assert held == len(everything) or full_blocks <= held < DriftWindow.BLOCKS * 7
        latest = everything[len(everything) - held :]
        assert np.array_equal(window.counts, np.bincount(latest.ravel(), minlength=Layout.total))
    assert len(np.concatenate(seen)) > capacity  # the window did drop old records


def psi_scrape(client: Any) -> dict[tuple[str, Any], float]:
    return parse_exposition(client.get("/metrics").get_data(as_text=True))


def test_psi_is_small_for_training_like_records_and_large_for_a_shifted_population(
    service_models_dir: Path,
) -> None:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    # A fresh app: its own windows, 2,000 records (the test client is one worker).
    settings = Settings(
        models_dir=service_models_dir,
        reload_interval_seconds=3600.0,
        drift_window_records=2_000,
        workers=1,
    )
    app = create_app(settings)
    store = app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready()
    client = app.test_client()
    samples = psi_scrape(client)
    assert total(samples, "underwriting_drift_window_records", model="underwriting") == 0
    assert not [k for k in samples if k[0] == "underwriting_feature_psi"]  # no traffic: no index

    def send(rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 500):
            response = client.post(
                "/v1/models/underwriting:predict", json={"instances": rows[start : start + 500]}
            )
            assert response.status_code == 200, response.get_json()

    rows = columns_to_rows(applicant_columns(3_000, seed=43))
    send(rows)
    calm = psi_scrape(client)
    # Blocks of 200 records: after 3,000 the window holds the latest 1,800 to 2,000.
    assert total(calm, "underwriting_drift_window_records", model="underwriting") == 1_800
    features = {
        dict(k[1])["feature"]: v
        for k, v in calm.items()
        if k[0] == "underwriting_feature_psi" and dict(k[1])["model"] == "underwriting"
    }
    assert set(features) == {f.name for f in store.serving()["underwriting"].features}
    assert max(features.values()) < PSI_INVESTIGATE, features
    # Only the composite had traffic: the single models show an empty window and no index.
    assert total(calm, "underwriting_drift_window_records", model="risk_class") == 0

    send(shifted(columns_to_rows(applicant_columns(2_000, seed=44))))
    moved = psi_scrape(client)
    psi = {
        (dict(k[1]).get("feature") or dict(k[1])["output"]): v
        for k, v in moved.items()
        if k[0] in ("underwriting_feature_psi", "underwriting_output_psi")
        and dict(k[1])["model"] == "underwriting"
    }
    assert psi["age"] > PSI_ACT and psi["weight_kg"] > PSI_ACT, psi
    unmoved = [name for name in ("annual_income", "sex", "tobacco_use", "hba1c")]
    assert all(psi[name] < PSI_INVESTIGATE for name in unmoved), psi
    # Older, heavier applicants are riskier: the outputs move too (less, for this tiny model).
    calm_outputs = [v for k, v in calm.items() if k[0] == "underwriting_output_psi"]
    assert psi["probabilities.standard"] > 3 * max(calm_outputs), (psi, calm_outputs)


def test_expected_decision_mix_comes_from_the_artifact(client: Any, underwriting: Any) -> None:
    measured = underwriting.models[0].metadata.metrics["policy"]["outcomes"]
    samples = psi_scrape(client)
    shares = {
        dict(k[1])["outcome"]: v
        for k, v in samples.items()
        if k[0] == "underwriting_expected_decision_ratio"
    }
    assert shares == pytest.approx(
        {k: v / sum(measured.values()) for k, v in measured.items()}, abs=1e-6
    )
    assert {
        dict(k[1])["model"] for k in samples if k[0] == "underwriting_expected_decision_ratio"
    } == {"underwriting"}
