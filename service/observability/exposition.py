"""The Prometheus exposition of all gunicorn workers (prometheus_client multiprocess mode)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from service.observability.compaction import shared_lock
from service.observability.metrics import MODEL_INFO

_MODEL_INFO_NAME = next(iter(MODEL_INFO.describe())).name


class WithoutRetiredVersions(Collector):
    """Drop zero-valued `underwriting_model_info` samples: versions no worker serves any more."""

    def __init__(self, source: Collector) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        for family in self.source.collect():
            if family.name == _MODEL_INFO_NAME:
                family.samples = [s for s in family.samples if s.value != 0]
            yield family


def exposition(*computed: Collector) -> bytes:
    """Render every metric: merged from all workers' files when in multiprocess mode.

    `computed` collectors add metrics worked out at scrape time (drift) to the stored ones.
    """
    registry = CollectorRegistry(auto_describe=False)
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    source: Collector = REGISTRY
    if shared:
        # A fresh read of every live and dead worker's files, under the fold's shared lock
        # (never mid-fold), held for the read only.
        with shared_lock(Path(shared)):
            source = _Collected(list(MultiProcessCollector(None).collect()))
    registry.register(WithoutRetiredVersions(source))
    for collector in computed:
        registry.register(collector)
    return generate_latest(registry)


class _Collected(Collector):
    """Metric families already read."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families
