"""Prometheus metrics, defined once (names are a contract: dashboards and alerts use them).

Labels are bounded: route templates, model names and versions, declared field names.
prometheus_client appends `_total` to counter names on exposition.
"""

from __future__ import annotations

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

# Fine steps around 1 ms so Prometheus's p99 tracks what a load generator measures.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.0002,
    0.0003,
    0.0004,
    0.0005,
    0.0006,
    0.0007,
    0.0008,
    0.0009,
    0.001,
    0.0011,
    0.0012,
    0.0014,
    0.0016,
    0.0018,
    0.002,
    0.0025,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
COVERAGE_BUCKETS: tuple[float, ...] = (
    0,
    50_000,
    100_000,
    250_000,
    500_000,
    750_000,
    1_000_000,
    1_500_000,
    2_000_000,
    3_000_000,
    5_000_000,
    7_500_000,
    10_000_000,
    20_000_000,
)
RECORDS_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

HTTP_REQUESTS = Counter(
    "underwriting_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "underwriting_http_request_duration_seconds",
    "Time from request received to response ready, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
# gRPC's sibling families, labelled as grpc-ecosystem's interceptors label theirs (grpc_service,
# grpc_method, grpc_code: the status code's name), so their dashboards' queries apply.
GRPC_HANDLED = Counter(
    "underwriting_grpc_server_handled",
    "gRPC calls completed, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "underwriting_grpc_server_handling_seconds",
    "Time from a gRPC call received to its answer ready, by service and method.",
    ["grpc_service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
REQUEST_RECORDS = Histogram(
    "underwriting_request_records",
    "Applicant records per prediction request, by route template (gRPC: the full method).",
    ["route"],
    buckets=RECORDS_BUCKETS,
)
MODEL_INFERENCE_DURATION = Histogram(
    "underwriting_model_inference_duration_seconds",
    "Time of one vectorised model call for a whole batch.",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
PREDICTIONS = Counter(
    "underwriting_predictions",
    "Applicant records scored, by model and version.",
    ["model", "version"],
)
RISK_CLASS_PREDICTIONS = Counter(
    "underwriting_risk_class_predictions",
    "Predicted risk classes, by classifier version and class.",
    ["version", "risk_class"],
)
MAX_COVERAGE = Histogram(
    "underwriting_max_coverage_dollars",
    "Predicted maximum coverage per applicant, in dollars.",
    buckets=COVERAGE_BUCKETS,
)
REJECTED_RECORDS = Counter(
    "underwriting_rejected_records",
    "Records rejected by validation, by offending field.",
    ["field"],
)
MODEL_INFO = Gauge(
    "underwriting_model_info",
    "1 for each model version loaded and serving in a live worker.",
    ["model", "version"],
    multiprocess_mode="livemax",
)
MODEL_LOAD_FAILURES = Counter(
    "underwriting_model_load_failures",
    "Model versions refused at load (bad checksum, unreadable, failed warm-up).",
    ["model"],
)

DECISIONS = Counter(
    "underwriting_decisions",
    "Decisions given, by policy version and outcome (accept, refer, decline).",
    ["policy_version", "outcome"],
)
CASES_OPENED = Counter(
    "underwriting_cases_opened",
    "Underwriters' cases opened with their decisions, by kind (referral, audit).",
    ["kind"],
)
DECISION_RECORD_FAILURES = Counter(
    "underwriting_decision_record_failures",
    "Requests whose decisions could not be recorded (answered 503, nothing given).",
)
DECISION_STORE_UP = Gauge(
    "underwriting_decision_store_up",
    "1 while the decision record store accepts writes, 0 while it fails, as the latest write "
    "or probe of any live worker saw it, by store (sqlite, postgresql).",
    ["store"],
    # The latest view, not the lowest: a worker that has had no request since the store
    # recovered would otherwise hold the gauge at 0 (and the alert on) until it gets one.
    multiprocess_mode="livemostrecent",
)
DECISION_REPLAYS = Counter(
    "underwriting_decision_replays",
    "Requests sent again under their request id, answered with the decisions on record.",
)
INCOMPLETE_EXPLANATIONS = Counter(
    "underwriting_incomplete_explanations",
    "Adverse decisions whose attributions missed the completeness tolerance after a retry.",
)
SHADOW_AGREEMENT = Counter(
    "underwriting_shadow_agreement",
    "Shadowed records by how the challenger's decision (or risk class) compares with the "
    "champion's: agree, challenger_stricter, challenger_more_lenient.",
    ["outcome"],
)
SHADOW_FAILURES = Counter(
    "underwriting_shadow_failures",
    "Sampled requests the challenger could not score (not loaded, other features, an error).",
)
SHADOW_DURATION = Histogram(
    "underwriting_shadow_duration_seconds",
    "Time a worker spent scoring the challenger on one sampled request, after its response.",
    buckets=LATENCY_BUCKETS,
)


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """Observe a whole batch at once: one write per bucket instead of one per value.

    prometheus_client has no batch observe; under multiprocess mode each observation is a
    locked write to a memory-mapped file, which for a 10,000-record request costs ~50 ms. This
    reaches into the histogram's children (private), falling back to plain `observe` if they moved.
    """
    if len(values) == 1:  # a single record: one plain observation is cheaper
        histogram.observe(float(values[0]))
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values:
            histogram.observe(value)
        return
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, count in zip(buckets, counts.tolist(), strict=False):
        if count:
            bucket.inc(count)
    total.inc(float(np.sum(values, dtype=np.float64)))
