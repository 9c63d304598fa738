"""What Prometheus would compute as p99 from the service's request-duration histogram.

Scraping /metrics before and after a load point and interpolating in the difference, as
`histogram_quantile` does over `increase(...)`, shows whether the buckets are fine enough for
Prometheus's p99 to track the one the load generator measures.
"""

from __future__ import annotations

import math
import re

import requests

METRIC = "underwriting_http_request_duration_seconds_bucket"
_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} ([0-9.eE+-]+|NaN|\+Inf)$")


def predict_buckets(base_url: str, route: str) -> dict[float, float]:
    """Cumulative bucket counts (upper bound -> count) of POSTs to one route template."""
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != METRIC:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if labels.get("route") == route and labels.get("method") == "POST":
            bound = math.inf if labels["le"] == "+Inf" else float(labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + float(match.group(3))
    return buckets


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """Prometheus's histogram_quantile over the increase between two scrapes."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def grpc_failures(base_url: str) -> float:
    """ModelInfer calls the service answered with any status but OK, so far."""
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    failed = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != "underwriting_grpc_server_handled_total":
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if labels.get("grpc_method") == "ModelInfer" and labels.get("grpc_code") != "OK":
            failed += float(match.group(3))
    return failed
