"""Scrape-time metrics of the models' behaviour: drift against training, the expected decision mix.

They are computed when Prometheus scrapes (from every worker's drift window and the serving
artifacts), not stored in prometheus_client's files: a PSI is not a sum, so the counts are
merged first and the index computed once from the merged counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from service.inference.servable import Servable
from service.monitoring.drift import DriftMonitor

FEATURE_PSI = "underwriting_feature_psi"
OUTPUT_PSI = "underwriting_output_psi"
WINDOW_RECORDS = "underwriting_drift_window_records"
EXPECTED_DECISIONS = "underwriting_expected_decision_ratio"
# The gauges this collector adds to the exposition (dashboards and alerts may use them).
COMPUTED_GAUGES = (FEATURE_PSI, OUTPUT_PSI, WINDOW_RECORDS, EXPECTED_DECISIONS)


class ModelBehaviourCollector(Collector):
    """PSI per feature and output, the drift window's size, and the decision mix expected."""

    def __init__(self, drift: DriftMonitor, serving: Callable[[], Mapping[str, object]]) -> None:
        self.drift = drift
        self.serving = serving

    def collect(self) -> Iterable[Metric]:
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


def _expected_mix(servable: object) -> dict[str, float]:
    """The decision mix the classifier's training report measured (none for a non-deciding one)."""
    if not isinstance(servable, Servable) or servable.policy is None:
        return {}
    for model in servable.models:
        measured = model.metadata.metrics.get("policy")
        if isinstance(measured, Mapping) and isinstance(measured.get("outcomes"), Mapping):
            counts = {str(k): float(v) for k, v in measured["outcomes"].items()}
            total = sum(counts.values())
            return {k: round(v / total, 6) for k, v in counts.items()} if total else {}
    return {}
