"""The metrics of a real gunicorn with two workers, read from /metrics and from the worker files.

- The counts in one scrape equal what was sent, whichever worker served it.
- The metrics directory is emptied at start (a previous run's counts and claims do not survive).
- Labels stay bounded: a thousand random paths, odd methods and unknown field names add no series.
- The model lifecycle: underwriting_model_info follows a swap, a refused version is counted once
  (not once per worker, not once per poll), and child_exit drops a dead worker's gauges and
  drift window and folds its counters into the archive (the counts stay, the files go).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from metrics_support import (
    HTTP_TIMEOUT_SECONDS,
    PREDICT_ROUTE,
    PREDICT_URL,
    RELOAD_INTERVAL_SECONDS,
    WORKERS,
    LiveService,
    concurrently,
    counts_by_file,
    label_values,
    post_json,
    record_batches,
    running_service,
    scrape,
    scrape_text,
    series,
    total,
    wait_for,
)
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from service_support import declared_features, publish_version, tamper, wait_ready
from test_deploy import alert_rules, dashboard_queries, promql_metric_names

REQUESTS = "underwriting_http_requests_total"
DURATION_COUNT = "underwriting_http_request_duration_seconds_count"
REJECTED = "underwriting_rejected_records_total"
MODEL_INFO = "underwriting_model_info"
LOAD_FAILURES = "underwriting_model_load_failures_total"
# What a previous run left in the metrics directory; gunicorn's on_starting must remove it.
STALE_ROUTE = "/left-over-from-a-previous-run"
STALE_CLAIM = "risk_class-3.refused"  # would hide the refusal of version 3 in the lifecycle test
STALE_DRIFT = "drift-underwriting-0123456789abcdef-999999.counts"  # a dead worker's drift window


def leave_stale_files(metrics_dir: Path) -> None:
    """Write a dead process's counter file and a refusal claim, as a previous run would."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    stale = MmapedDict(str(metrics_dir / "counter_999999.db"))
    key = mmap_key(
        "underwriting_http_requests",
        REQUESTS,
        ["method", "route", "status"],
        ["GET", STALE_ROUTE, "200"],
        "stale",
    )
    stale.write_value(key, 1000.0, 0.0)
    stale.close()
    (metrics_dir / STALE_CLAIM).touch()
    (metrics_dir / STALE_DRIFT).write_bytes(b"\0" * 8)


@pytest.fixture(scope="module")
def live(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    root = tmp_path_factory.mktemp("metrics-gunicorn")
    leave_stale_files(root / "prometheus-multiproc")
    with running_service(tiny_models_dir, root) as service:
        yield service


def test_the_metrics_directory_is_emptied_at_start(live: LiveService) -> None:
    assert not (live.metrics_dir / "counter_999999.db").exists()
    assert not (live.metrics_dir / STALE_CLAIM).exists()
    assert not (live.metrics_dir / STALE_DRIFT).exists()
    assert STALE_ROUTE not in scrape_text(live.base_url)


def test_every_rejection_label_is_exposed_at_zero_before_any_rejection(live: LiveService) -> None:
    """Known label values start at 0, so rate() panels and alerts have a series from the start."""
    samples = scrape(live.base_url)
    fields = {f["name"] for f in declared_features(live.models_dir)} | {"_schema", "_unknown"}
    fields |= {"requested_coverage", "race", "ssn"}  # a request field, prohibited names
    assert fields <= label_values(samples, REJECTED, "field")


def test_one_scrape_counts_every_request_whichever_worker_served_it(live: LiveService) -> None:
    sizes = [1 + i % 5 for i in range(60)]  # 180 records in 60 requests
    batches = record_batches(sizes, seed=11)
    url = PREDICT_URL.format(live.base_url, "underwriting")
    invalid = [{**batch[0], "age": "old", f"zz_{i}": 1} for i, batch in enumerate(batches[:7])]
    before = scrape(live.base_url)

    answers = concurrently(lambda b: post_json(url, {"instances": b}), batches)
    refusals = concurrently(lambda r: post_json(url, {"instances": [r]}), invalid)
    unknown = concurrently(
        lambda b: post_json(PREDICT_URL.format(live.base_url, "no_such_model"), {"instances": b}),
        batches[:5],
    )
    assert [a.status_code for a in answers] == [200] * len(batches)
    assert [r.status_code for r in refusals] == [400] * len(invalid)
    assert [u.status_code for u in unknown] == [404] * 5
    after = scrape(live.base_url)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    post = {"method": "POST", "route": PREDICT_ROUTE}
    assert moved(REQUESTS, **post, status="200") == len(batches)
    assert moved(REQUESTS, **post, status="400") == len(invalid)
    assert moved(REQUESTS, **post, status="404") == 5
    assert moved(DURATION_COUNT, **post) == len(batches) + len(invalid) + 5
    records = sum(sizes)
    for model in ("risk_class", "max_coverage"):
        assert moved("underwriting_predictions_total", model=model, version="1") == records
    assert moved("underwriting_request_records_count", route=PREDICT_ROUTE) == len(batches)
    assert moved("underwriting_request_records_sum", route=PREDICT_ROUTE) == records

    predictions = [p for a in answers for p in a.json()["predictions"]]
    assert len(predictions) == records
    mix = Counter(p["risk_class"] for p in predictions)
    assert len(mix) >= 2, "the records must exercise more than one class"
    for risk_class, count in mix.items():
        moved_by = moved("underwriting_risk_class_predictions_total", risk_class=risk_class)
        assert moved_by == count, risk_class
    assert moved("underwriting_risk_class_predictions_total") == records
    assert moved("underwriting_max_coverage_dollars_count") == records
    coverage = sum(p["max_coverage"] for p in predictions)
    assert moved("underwriting_max_coverage_dollars_sum") == pytest.approx(coverage, rel=1e-6)
    # One rejection of `age` and one of an unknown field per invalid request.
    assert moved(REJECTED, field="age") == len(invalid)
    assert moved(REJECTED, field="_unknown") == len(invalid)

    # Both workers served predictions, and their files add up to what the scrape reported.
    per_worker = counts_by_file(live.metrics_dir, REQUESTS, **post, status="200")
    assert sum(1 for count in per_worker.values() if count > 0) == WORKERS, per_worker
    assert sum(per_worker.values()) == total(after, REQUESTS, **post, status="200")

    # Every metric the Grafana dashboard and the alert rules query is on the live exposition,
    # but the shadow challenger's, which exist only when one is configured, and gRPC's, which
    # exist once a gRPC call is answered (their own tests: this instance serves REST alone).
    exposed = {name for name, _ in after} | {"up"}
    queries = [expr for _, expr in dashboard_queries()] + [r["expr"] for r in alert_rules()]
    used = set().union(*(promql_metric_names(expr) for expr in queries))
    shadow_only = {n for n in used if n.startswith("underwriting_shadow_")}
    assert shadow_only - {
        "underwriting_shadow_failures_total",
        "underwriting_shadow_duration_seconds_bucket",
    } == {
        "underwriting_shadow_agreement_total",
        "underwriting_shadow_output_psi",
        "underwriting_shadow_window_records",
    }
    grpc_only = {n for n in used if n.startswith("underwriting_grpc_")}
    assert grpc_only == {
        "underwriting_grpc_server_handled_total",
        "underwriting_grpc_server_handling_seconds_bucket",
    }
    assert used - shadow_only - grpc_only <= exposed, (used - shadow_only) - exposed


def test_random_paths_methods_and_field_names_add_no_series(live: LiveService) -> None:
    before = scrape(live.base_url)
    tokens = [uuid.uuid4().hex for _ in range(1000)]

    def get(token: str) -> int:
        return requests.get(f"{live.base_url}/{token}/x", timeout=HTTP_TIMEOUT_SECONDS).status_code

    def odd_method(token: str) -> int:
        url = f"{live.base_url}/healthz"
        letters = token[:8].upper().translate(str.maketrans("0123456789", "GHIJKLMNOP"))
        # Letters only: the front refuses a method with digits itself (400), as HTTP allows.
        return requests.request("X" + letters, url, timeout=HTTP_TIMEOUT_SECONDS).status_code

    assert set(concurrently(get, tokens)) == {404}
    assert set(concurrently(odd_method, tokens[:50])) == {405}
    (record,) = record_batches([1], seed=5)[0]
    columns = {name: [value] for name, value in record.items()}
    bodies: list[dict[str, Any]] = [{"instances": [record | {f"f_{t}": 1}]} for t in tokens[:100]]
    bodies += [{"inputs": columns | {f"c_{t}": [1]}} for t in tokens[100:200]]
    url = PREDICT_URL.format(live.base_url, "underwriting")
    assert {r.status_code for r in concurrently(lambda b: post_json(url, b), bodies)} == {400}
    text = scrape_text(live.base_url)
    after = scrape(live.base_url)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert not any(token[:8] in text.lower() for token in tokens), "a request value is a label"
    assert moved(REQUESTS, route="unmatched") == 1000 + 50
    assert moved(REJECTED, field="_unknown") == 200
    new = {name: series(after, name) - series(before, name) for name in (REQUESTS, REJECTED)}
    assert new[REQUESTS] <= {
        (("method", "GET"), ("route", "unmatched"), ("status", "404")),
        (("method", "other"), ("route", "unmatched"), ("status", "405")),
        (("method", "POST"), ("route", PREDICT_ROUTE), ("status", "400")),
    }, new[REQUESTS]
    assert new[REJECTED] <= {(("field", "_unknown"),)}, new[REJECTED]
    metadata = json.loads((live.models_dir / "risk_class" / "1" / "metadata.json").read_text())
    allowed = {f["name"] for f in metadata["features"]} | {"_schema", "_unknown"}
    allowed |= {name for names in metadata["prohibited_fields"].values() for name in names}
    allowed |= {"requested_coverage"}  # the request field besides the features
    assert label_values(after, REJECTED, "field") <= allowed
    grown = series_of_all(after) - series_of_all(before)
    assert len(grown) <= 10, f"a handful of new series, not one per request: {sorted(grown)}"


def series_of_all(samples: dict[Any, float]) -> set[tuple[str, Any]]:
    """Every series, a histogram's buckets counted as one (metric family and labels but `le`)."""
    families = ("_bucket", "_sum", "_count", "_total")
    return {
        (
            name.removesuffix(next((f for f in families if name.endswith(f)), "")),
            tuple(label for label in labels if label[0] != "le"),
        )
        for name, labels in samples
    }


def model_versions(samples: dict[Any, float], model: str) -> set[str]:
    """Versions underwriting_model_info reports for `model`."""
    return {
        dict(labels)["version"]
        for (name, labels) in samples
        if name == MODEL_INFO and dict(labels)["model"] == model
    }


def worker_pids(metrics_dir: Path) -> set[int]:
    """Workers holding a live model-info gauge (one file each)."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("gauge_livemax_*.db")}


def refusals_logged(live: LiveService, version: int) -> int:
    return live.log.read_text(errors="replace").count(f"risk_class version {version} refused")


def test_model_lifecycle_info_follows_swaps_and_refusals_count_once(
    live: LiveService, tiny_models_dir: Path, tmp_path: Path
) -> None:
    source = tiny_models_dir / "risk_class" / "1"
    samples = scrape(live.base_url)
    assert model_versions(samples, "risk_class") == {"1"}
    assert model_versions(samples, "max_coverage") == {"1"}
    assert samples[(MODEL_INFO, (("model", "risk_class"), ("version", "1")))] == 1.0
    for model in ("risk_class", "max_coverage", "underwriting"):  # present at 0 from the start
        assert samples[(LOAD_FAILURES, (("model", model),))] == 0

    # A good version 2: every worker swaps to it, and version 1 leaves the exposition.
    publish_version(source, live.models_dir, "risk_class", 2)
    wait_for(
        lambda: model_versions(scrape(live.base_url), "risk_class") == {"2"},
        timeout=60,
        what="underwriting_model_info to show risk_class version 2 only",
    )
    answer = post_json(
        PREDICT_URL.format(live.base_url, "underwriting"), {"instances": record_batches([1], 3)[0]}
    )
    assert answer.json()["model_versions"]["risk_class"] == "2", answer.text

    # A corrupted version 3 (bytes changed after the checksums were written), published
    # atomically: refused by every worker, counted once.
    broken = tmp_path / "broken"
    publish_version(source, tmp_path, "broken", 3)
    tamper(broken / "3")
    publish_version(broken / "3", live.models_dir, "risk_class", 3)
    wait_for(
        lambda: refusals_logged(live, 3) >= WORKERS,
        timeout=60,
        what="every worker to refuse risk_class version 3",
    )
    # Several polls later: still counted once, version 2 still serving.
    for _ in range(4):
        time.sleep(RELOAD_INTERVAL_SECONDS)
        later = scrape(live.base_url)
        assert total(later, LOAD_FAILURES, model="risk_class") == 1
        assert total(later, LOAD_FAILURES, model="max_coverage") == 0
        assert model_versions(later, "risk_class") == {"2"}
    assert refusals_logged(live, 3) == WORKERS, "refused once per worker, never retried"

    # Kill a worker: child_exit removes its live gauge file; its replacement loads version 2,
    # refuses version 3 again without counting it, and the counts of the dead worker remain.
    predicted_before = total(scrape(live.base_url), REQUESTS, route=PREDICT_ROUTE)
    pids = worker_pids(live.metrics_dir)
    assert len(pids) == WORKERS, pids
    victim = min(pids)
    assert list(live.metrics_dir.glob(f"drift-underwriting-*-{victim}.counts")), "it scored"
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: (
            victim not in worker_pids(live.metrics_dir)
            and len(worker_pids(live.metrics_dir)) == WORKERS
        ),
        timeout=120,
        what="the killed worker's gauge file to go and its replacement to load the models",
    )
    wait_ready(live.base_url, timeout=120)
    assert not list(live.metrics_dir.glob(f"drift-*-{victim}.counts")), "its drift window went"
    # Its counters and histograms were folded into the archive: no file per dead worker.
    assert not list(live.metrics_dir.glob(f"*_{victim}.db")), "its files were folded"
    assert (live.metrics_dir / "counter_archive.db").is_file()
    wait_for(lambda: refusals_logged(live, 3) == WORKERS + 1, timeout=60, what="a third refusal")
    samples = scrape(live.base_url)
    assert total(samples, LOAD_FAILURES, model="risk_class") == 1
    assert model_versions(samples, "risk_class") == {"2"}
    assert total(samples, REQUESTS, route=PREDICT_ROUTE) == predicted_before
