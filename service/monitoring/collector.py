"""Scrape-time metrics of the models' behaviour: drift against training, the expected decision mix.

They are computed when Prometheus scrapes (from every worker's drift window and the serving
artifacts), not stored in prometheus_client's files: a PSI is not a sum, so the counts are
merged first and the index computed once from the merged counts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from contract.card import RULES_DIGEST
from contract.reference import psi_between
from service.inference.servable import Servable
from service.monitoring.drift import DriftMonitor
from service.monitoring.shadow import Shadow

log = logging.getLogger(__name__)

FEATURE_PSI = "underwriting_feature_psi"
OUTPUT_PSI = "underwriting_output_psi"
WINDOW_RECORDS = "underwriting_drift_window_records"
EXPECTED_DECISIONS = "underwriting_expected_decision_ratio"
SHADOW_PSI = "underwriting_shadow_output_psi"
SHADOW_RECORDS = "underwriting_shadow_window_records"
# The gauges this collector adds to the exposition (dashboards and alerts may use them).
COMPUTED_GAUGES = (
    FEATURE_PSI,
    OUTPUT_PSI,
    WINDOW_RECORDS,
    EXPECTED_DECISIONS,
    SHADOW_PSI,
    SHADOW_RECORDS,
)


class ModelBehaviourCollector(Collector):
    """PSI per feature and output, the drift window's size, and the decision mix expected."""

    def __init__(
        self,
        drift: DriftMonitor,
        serving: Callable[[], Mapping[str, object]],
        shadow: Shadow | None = None,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.drift = drift
        self.serving = serving
        self.shadow = shadow
        # Held while reading the windows: the thread that fills them (the dataplane's) holds it.
        self.lock = lock or contextlib.nullcontext()

    def collect(self) -> Iterable[Metric]:
        # A failure here must cost the drift gauges only, never the whole scrape.
        try:
            with self.lock:
                families = list(self._collect())
        except Exception:
            log.exception("scrape-time model metrics failed; the other metrics are served")
            return
        yield from families

    def _collect(self) -> Iterable[Metric]:
        serving = self.serving()
        features = GaugeMetricFamily(
            FEATURE_PSI,
            "Population stability index of a feature: live window against the training split.",
            labels=["model", "feature"],
        )
        outputs = GaugeMetricFamily(
            OUTPUT_PSI,
            "Population stability index of an output (class probability, coverage) against "
            "the training split.",
            labels=["model", "output"],
        )
        records = GaugeMetricFamily(
            WINDOW_RECORDS,
            "Records in the drift window, summed over the live workers (the PSI's sample size).",
            labels=["model"],
        )
        for layout, counts in self.drift.merged(serving):
            size = layout.records(counts)
            records.add_metric([layout.name], size)
            if not size:  # no traffic yet: no index rather than a reassuring zero
                continue
            for variable, psi in layout.psi(counts):
                family = features if variable.kind == "feature" else outputs
                family.add_metric([layout.name, variable.name], round(psi, 6))
        expected = GaugeMetricFamily(
            EXPECTED_DECISIONS,
            "Share of each decision outcome on the test split under the policy at training "
            "(compare with underwriting_decisions_total).",
            labels=["model", "outcome"],
        )
        for name, servable in serving.items():
            for outcome, share in _expected_mix(servable).items():
                expected.add_metric([name, outcome], share)
        yield from (features, outputs, records, expected)
        if self.shadow is not None:
            yield from self._shadow(self.shadow, serving)

    def _shadow(self, shadow: Shadow, serving: Mapping[str, object]) -> Iterable[Metric]:
        psi = GaugeMetricFamily(
            SHADOW_PSI,
            "Population stability index of the challenger's outputs against the champion's, "
            "on the same shadowed records.",
            labels=["model", "output"],
        )
        records = GaugeMetricFamily(
            SHADOW_RECORDS,
            "Shadowed records behind that PSI (both models scored them).",
            labels=["model"],
        )
        for layout, champion, challenger in shadow.merged(dict(serving)):
            size = layout.records(challenger)
            records.add_metric([layout.name], size)
            if not size:
                continue
            for i, variable in enumerate(layout.variables):
                if variable.kind == "output":
                    bins = slice(layout.offsets[i], layout.offsets[i + 1])
                    value = psi_between(champion[bins], challenger[bins])
                    psi.add_metric([layout.name, variable.name], round(value, 6))
        yield from (psi, records)


def _expected_mix(servable: object) -> dict[str, float]:
    """The decision mix the classifier's training report measured, if it was measured under the
    rules serving now (none for a model that does not decide, or under other rules)."""
    if not isinstance(servable, Servable) or servable.policy is None:
        return {}
    rules = servable.policy.rules_digest
    for model in servable.models:
        measured = model.metadata.metrics.get("policy")
        if not isinstance(measured, Mapping) or measured.get(RULES_DIGEST) != rules:
            continue
        if isinstance(measured.get("outcomes"), Mapping):
            counts = {str(k): float(v) for k, v in measured["outcomes"].items()}
            total = sum(counts.values())
            return {k: round(v / total, 6) for k, v in counts.items()} if total else {}
    return {}
