"""Shadow scoring under load on real gunicorn: the champion's answers as fast, the counts exact.

Two services run side by side over the same champion models, one with a challenger scoring
every request in its shadow. Requests alternate between them (so machine noise falls on both),
first one at a time, then from four client threads at once. The shadowed service answers as fast
(its median within noise of the other's: the challenger runs after the response has gone), and
every record it scored is compared exactly once across both workers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from metrics_support import (
    HTTP_TIMEOUT_SECONDS,
    WORKERS,
    Samples,
    concurrently,
    record_batches,
    scrape,
    total,
    wait_for,
)
from service_support import make_repository, served
from test_deploy import alert_rules, dashboard_queries, promql_metric_names

PREDICT = "{}/v1/models/underwriting:predict"


@pytest.fixture(scope="module")
def services(
    tiny_models_dir: Path, trained_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    root = tmp_path_factory.mktemp("shadow-gunicorn")
    champion = make_repository(tiny_models_dir, root / "models")
    challenger = make_repository(trained_models_dir, root / "challenger")
    for name in ("shadowed", "plain"):
        (root / name).mkdir()
    with (
        served(
            champion,
            root / "shadowed.log",
            env={"PROMETHEUS_MULTIPROC_DIR": str(root / "shadowed")},
            workers=str(WORKERS),
            shadow_models_dir=str(challenger),
            shadow_sample="1",
        ) as (shadowed, _),
        served(
            champion,
            root / "plain.log",
            env={"PROMETHEUS_MULTIPROC_DIR": str(root / "plain")},
            workers=str(WORKERS),
        ) as (plain, _),
    ):
        # Both workers of the shadowed service have their challenger loaded before timing.
        info = "underwriting_model_info"
        wait_for(
            lambda: total(scrape(shadowed), info, model="challenger:risk_class") >= 1,
            120,
            "the challenger",
        )
        yield shadowed, plain, root


def timed_post(url: str, rows: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    response = requests.post(url, json={"instances": rows}, timeout=HTTP_TIMEOUT_SECONDS)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    return elapsed


def test_shadow_scoring_keeps_the_champion_latency_and_counts_every_record(
    services: tuple[str, str, Path],
) -> None:
    shadowed, plain, _root = services
    before = scrape(shadowed)
    singles = record_batches([1] * 300, seed=71)
    for rows in singles[:20]:  # warm both
        timed_post(PREDICT.format(shadowed), rows)
        timed_post(PREDICT.format(plain), rows)
    latency: dict[str, list[float]] = {"shadowed": [], "plain": []}
    for rows in singles[20:]:
        latency["shadowed"].append(timed_post(PREDICT.format(shadowed), rows))
        latency["plain"].append(timed_post(PREDICT.format(plain), rows))
    # Under load: four client threads, batches of 25, alternating services.
    batches = record_batches([25] * 80, seed=72)
    jobs = [(PREDICT.format(url), rows) for rows in batches for url in (shadowed, plain)]
    loaded = concurrently(lambda job: (job[0], timed_post(*job)), jobs, threads=4)
    for url, seconds in loaded:
        latency.setdefault(
            "shadowed-load" if url.startswith(shadowed) else "plain-load", []
        ).append(seconds)
    medians = {k: statistics.median(v) * 1e3 for k, v in latency.items()}
    print(f"\nmedian latency ms: {medians}")
    # Within noise: the shadow work happens after the response is out.
    assert medians["shadowed"] <= medians["plain"] * 1.3 + 1.0, medians
    assert medians["shadowed-load"] <= medians["plain-load"] * 1.3 + 5.0, medians

    requests_sent = 300 + len(batches)
    records_sent = 300 + 25 * len(batches)

    def counted() -> Samples | None:
        after = scrape(shadowed)
        done = total(after, "underwriting_shadow_duration_seconds_count") - total(
            before, "underwriting_shadow_duration_seconds_count"
        )
        return after if done == requests_sent else None

    after = wait_for(counted, 60, "every shadowed request to be scored")
    agreement = total(after, "underwriting_shadow_agreement_total") - total(
        before, "underwriting_shadow_agreement_total"
    )
    assert agreement == records_sent
    assert total(after, "underwriting_shadow_failures_total") == 0
    assert (
        total(after, "underwriting_predictions_total", model="risk_class")
        - total(before, "underwriting_predictions_total", model="risk_class")
        == records_sent
    )  # the champion's counts: once per record, not twice
    shadowed_psi = [v for (n, _), v in after.items() if n == "underwriting_shadow_output_psi"]
    assert len(shadowed_psi) == 4
    # With a challenger, every shadow metric the dashboard and alerts query is exposed.
    queries = [expr for _, expr in dashboard_queries()] + [r["expr"] for r in alert_rules()]
    used = set().union(*(promql_metric_names(expr) for expr in queries))
    shadow = {n for n in used if n.startswith("underwriting_shadow_")}
    assert shadow and shadow <= {name for name, _ in after}, shadow
