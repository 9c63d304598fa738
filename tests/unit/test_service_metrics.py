"""Metrics: batch observation, retired model versions, and multiprocess exposition."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, Histogram

from service.observability import metrics
from service.observability.exposition import exposition

WRITER = textwrap.dedent(
    """
    from service.observability import metrics
    metrics.PREDICTIONS.labels("risk_class", "1").inc(3)
    metrics.MODEL_INFO.labels("risk_class", "1").set(1)
    metrics.MODEL_INFO.labels("risk_class", "0").set(0)
    """
)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_observe_many_equals_observing_one_by_one() -> None:
    values = np.array([0, 1, 49_999.5, 50_000, 50_000.1, 2e6, 9e9, 123.4], dtype=np.float32)
    one, many = CollectorRegistry(), CollectorRegistry()
    buckets = metrics.COVERAGE_BUCKETS
    single = Histogram("coverage_dollars", "x", buckets=buckets, registry=one)
    batch = Histogram("coverage_dollars", "x", buckets=buckets, registry=many)
    for value in values:
        single.observe(float(value))
    metrics.observe_many(batch, values)
    assert samples(many) == samples(one)


def test_retired_model_versions_disappear_from_the_exposition() -> None:
    info = metrics.MODEL_INFO.labels("risk_class", "999")
    info.set(1)
    assert 'underwriting_model_info{model="risk_class",version="999"} 1.0' in exposition().decode()
    info.set(0)
    assert 'version="999"' not in exposition().decode()


def test_multiprocess_exposition_merges_workers_and_drops_dead_ones(tmp_path: Path) -> None:
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two "workers", each its own process and files
        subprocess.run([sys.executable, "-c", WRITER], env=env, check=True, timeout=60)
    script = "from service.observability.exposition import exposition; print(exposition().decode())"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert 'underwriting_predictions_total{model="risk_class",version="1"} 6.0' in out
    assert 'underwriting_model_info{model="risk_class",version="1"} 1.0' in out
    assert 'version="0"' not in out
    gauges = list(tmp_path.glob("gauge_livemax_*.db"))
    assert len(gauges) == 2
    from prometheus_client import multiprocess

    for gauge in gauges:  # what gunicorn's child_exit hook does for each dead worker
        multiprocess.mark_process_dead(int(gauge.stem.rsplit("_", 1)[1]), str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "underwriting_model_info{" not in out
    assert 'underwriting_predictions_total{model="risk_class",version="1"} 6.0' in out
