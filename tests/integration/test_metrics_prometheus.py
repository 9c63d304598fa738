"""A real Prometheus scrapes a real gunicorn (two workers) while the test sends known requests.

Prometheus (the Debian package) runs on a free loopback port with a 1 s scrape interval, a
temporary configuration that also loads the alert rules from deploy/, and temporary storage. After
a scrape that started once the last request was answered, the numbers Prometheus holds must be
exactly what was sent. promtool checks the live /metrics exposition. A missing prometheus or
promtool fails the test when CI is set and skips it otherwise.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from metrics_support import (
    PREDICT_ROUTE,
    PREDICT_URL,
    LiveService,
    concurrently,
    post_json,
    record_batches,
    running_service,
    scrape_text,
    wait_for,
)
from paths import REPO
from service_support import free_port, launch, stop_service
from tool_support import require_tool

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
JOB = "underwriting"  # the alert rules select job="underwriting"
HINT = "the Debian package `prometheus` (make system-packages, as root)"
SCRAPE_INTERVAL = "1s"
QUERY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Prometheus:
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant query; return the result vector."""
        response = requests.get(
            f"{self.url}/api/v1/query", params={"query": expr}, timeout=QUERY_TIMEOUT_SECONDS
        )
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", body
        assert body["data"]["resultType"] == "vector", body
        return list(body["data"]["result"])

    def scalar(self, expr: str) -> float | None:
        """The single value of a query that returns at most one series (None when empty)."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def by(self, expr: str, label: str) -> dict[str, float]:
        return {r["metric"][label]: float(r["value"][1]) for r in self.query(expr)}

    def scraped_after(self, moment: float) -> bool:
        """True once the service's latest scrape started after `moment` (Unix time)."""
        started = self.scalar(f'timestamp(up{{job="{JOB}"}})')
        return started is not None and started > moment


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool", HINT)


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    return require_tool("prometheus", HINT)


@pytest.fixture(scope="module")
def live(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with running_service(tiny_models_dir, tmp_path_factory.mktemp("prom-service")) as service:
        yield service


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: str, live: LiveService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping `live` (the binary is looked up first: no service for a skip)."""
    root = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {
                "job_name": JOB,
                "scrape_interval": SCRAPE_INTERVAL,
                "scrape_timeout": "900ms",
                "static_configs": [{"targets": [live.base_url.removeprefix("http://")]}],
            }
        ],
    }
    (root / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = root / "prometheus.log"
    process = launch(
        [
            prometheus_binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        {"PATH": "/usr/bin:/bin", "HOME": str(root)},
        log,
    )
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:

        def ready() -> bool:
            try:
                return requests.get(f"{server.url}/-/ready", timeout=2).status_code == 200
            except requests.RequestException:
                assert process.poll() is None, log.read_text()[-3000:]
                return False

        wait_for(ready, timeout=60, what=f"Prometheus ready; log:\n{log}")
        wait_for(lambda: server.scraped_after(0), timeout=30, what="a first scrape")
        yield server
    finally:
        stop_service(process, timeout=20)


def test_prometheus_holds_exactly_the_requests_sent(
    live: LiveService, prometheus: Prometheus
) -> None:
    mark = time.time()
    wait_for(lambda: prometheus.scraped_after(mark), timeout=30, what="a scrape before sending")
    coverage_count = 'sum(underwriting_max_coverage_dollars_count{job="underwriting"})'
    coverage_sum = 'sum(underwriting_max_coverage_dollars_sum{job="underwriting"})'
    classes = 'sum by (risk_class) (underwriting_risk_class_predictions_total{job="underwriting"})'
    count_before = prometheus.scalar(coverage_count) or 0.0
    sum_before = prometheus.scalar(coverage_sum) or 0.0
    classes_before = prometheus.by(classes, "risk_class")

    sizes = [1 + (i * 7) % 10 for i in range(80)]  # 440 records in 80 requests
    batches = record_batches(sizes, seed=21)
    url = PREDICT_URL.format(live.base_url, "underwriting")
    answers = concurrently(lambda batch: post_json(url, {"instances": batch}), batches)
    invalid = [{**batch[0], "age": -5} for batch in batches[:9]]
    refusals = concurrently(lambda record: post_json(url, {"instances": [record]}), invalid)
    assert [a.status_code for a in answers] == [200] * len(batches)
    assert [r.status_code for r in refusals] == [400] * len(invalid)
    sent = time.time()
    wait_for(lambda: prometheus.scraped_after(sent), timeout=30, what="a scrape after sending")

    predict = f'{{job="{JOB}",route="{PREDICT_ROUTE}"}}'
    assert prometheus.scalar(f"sum(underwriting_http_requests_total{predict})") == len(
        batches
    ) + len(invalid)
    by_status = prometheus.by(
        f"sum by (status) (underwriting_http_requests_total{predict})", "status"
    )
    assert by_status == {"200": len(batches), "400": len(invalid)}
    records = sum(sizes)
    predictions = [p for answer in answers for p in answer.json()["predictions"]]
    expected_classes = Counter(p["risk_class"] for p in predictions)
    assert len(expected_classes) >= 2, "the records must exercise more than one class"
    after_classes = prometheus.by(classes, "risk_class")
    moved = {k: v - classes_before.get(k, 0.0) for k, v in after_classes.items()}
    assert {k: v for k, v in moved.items() if v} == dict(expected_classes)
    assert prometheus.scalar(coverage_count) == count_before + records
    coverage = sum(p["max_coverage"] for p in predictions)
    moved_sum = (prometheus.scalar(coverage_sum) or 0.0) - sum_before
    assert moved_sum == pytest.approx(coverage, rel=1e-6)
    by_model = prometheus.by(
        'sum by (model) (underwriting_predictions_total{job="underwriting"})', "model"
    )
    assert by_model == {"risk_class": records, "max_coverage": records}
    assert prometheus.scalar('sum(underwriting_rejected_records_total{field="age"})') == len(
        invalid
    )
    assert prometheus.by('underwriting_model_info{job="underwriting"}', "model") == {
        "risk_class": 1.0,
        "max_coverage": 1.0,
        "underwriting_policy": 1.0,
    }


def test_prometheus_evaluates_the_alert_rules_without_errors(prometheus: Prometheus) -> None:
    """The real rules over the real series: no evaluation error, and no outage alert."""

    def evaluated() -> list[dict[str, Any]] | None:
        body = requests.get(f"{prometheus.url}/api/v1/rules", timeout=QUERY_TIMEOUT_SECONDS).json()
        rules = [rule for group in body["data"]["groups"] for rule in group["rules"]]
        done = rules and all(not r["lastEvaluation"].startswith("0001") for r in rules)
        return rules if done else None

    rules = wait_for(evaluated, timeout=30, what="every alert rule evaluated once")
    assert {rule["name"] for rule in rules} >= {
        "UnderwritingServiceDown",
        "UnderwritingModelNotLoaded",
    }
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    # Not the class-mix alert: whether the test's few hundred records look shifted is up to the
    # tiny fixture models.
    active = [r["name"] for r in rules if r["state"] != "inactive"]
    assert [name for name in active if name != "UnderwritingRiskClassMixShift"] == []


def test_promtool_check_metrics_accepts_the_live_exposition(
    promtool: str, live: LiveService
) -> None:
    # Make every family present: a prediction, a rejected record, an unmatched route.
    url = PREDICT_URL.format(live.base_url, "underwriting")
    batch = record_batches([2], seed=2)[0]
    assert post_json(url, {"instances": batch}).status_code == 200
    assert post_json(url, {"instances": [{**batch[0], "age": "x"}]}).status_code == 400
    assert requests.get(f"{live.base_url}/nowhere", timeout=10).status_code == 404
    text = scrape_text(live.base_url)
    for family in (
        "underwriting_http_requests_total",
        "underwriting_http_request_duration_seconds",
        "underwriting_model_inference_duration_seconds",
        "underwriting_predictions_total",
        "underwriting_risk_class_predictions_total",
        "underwriting_max_coverage_dollars",
        "underwriting_rejected_records_total",
        "underwriting_model_info",
        "underwriting_model_load_failures_total",
        "underwriting_request_records",
    ):
        assert f"# TYPE {family} " in text, family
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    assert result.returncode == 0, report
    assert result.stdout.strip() == "" and result.stderr.strip() == "", report
