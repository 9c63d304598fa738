"""Helpers for the tests that read the service's metrics from real gunicorn and Prometheus.

The service runs as in production: gunicorn with two sync workers started by `python -m service`
(service_support.start_service), prometheus_client in multiprocess mode over a metrics directory
the test owns, so that the test can also look at the files the workers write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from service_support import (
    applicant_columns,
    columns_to_rows,
    make_repository,
    served,
)

WORKERS = 2
PREDICT_ROUTE = "/v1/models/<model:name>:predict"
PREDICT_URL = "{}/v1/models/{}:predict"
# Test-only timing: poll the repository often so that swaps and refusals show up quickly.
RELOAD_INTERVAL_SECONDS = 0.5
HTTP_TIMEOUT_SECONDS = 30.0

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]
T = TypeVar("T")


@dataclass(frozen=True)
class LiveService:
    """A running gunicorn: where it answers, its master process, and the directories it uses."""

    base_url: str
    pid: int
    models_dir: Path
    metrics_dir: Path
    log: Path


@contextmanager
def running_service(trained_models_dir: Path, root: Path) -> Iterator[LiveService]:
    """Run the service over a copy of the trained models with WORKERS workers; always stop it."""
    models_dir = make_repository(trained_models_dir, root / "models")
    metrics_dir = root / "prometheus-multiproc"
    metrics_dir.mkdir(exist_ok=True)
    log = root / "gunicorn.log"
    with served(
        models_dir,
        log,
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        workers=str(WORKERS),
        reload_interval_seconds=str(RELOAD_INTERVAL_SECONDS),
    ) as (base_url, process):
        yield LiveService(base_url, process.pid, models_dir, metrics_dir, log)


# --------------------------------------------------------------------------- reading metrics


def parse_exposition(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by sample name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape_text(base_url: str) -> str:
    response = requests.get(f"{base_url}/metrics", timeout=HTTP_TIMEOUT_SECONDS)
    assert response.status_code == 200, response.text[:500]
    return response.text


def scrape(base_url: str) -> Samples:
    return parse_exposition(scrape_text(base_url))


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(value for (n, lbls), value in samples.items() if n == name and wanted <= set(lbls))


def series(samples: Samples, name: str) -> set[Labels]:
    """Label sets of the samples named `name`."""
    return {lbls for n, lbls in samples if n == name}


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(lbls)[label] for lbls in series(samples, name) if label in dict(lbls)}


def counts_by_file(metrics_dir: Path, name: str, **labels: str) -> dict[str, float]:
    """Per worker file (counter_<pid>.db): the sum of `name` samples with these labels."""
    wanted = set(labels.items())
    result = {}
    for path in sorted(metrics_dir.glob("counter_*.db")):
        count = 0.0
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, sample, sample_labels, _help = json.loads(key)
            if sample == name and wanted <= set(sample_labels.items()):
                count += value
        result[path.stem.rsplit("_", 1)[1]] = count
    return result


def wait_for(check: Callable[[], T | None], timeout: float, what: str, step: float = 0.2) -> T:
    """Poll `check` until it returns something other than None or False; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


# --------------------------------------------------------------------------- sending requests


def record_batches(sizes: Iterable[int], seed: int) -> list[list[dict[str, Any]]]:
    """Realistic applicant records from the synthetic generator, cut into batches of `sizes`."""
    sizes = list(sizes)
    rows = columns_to_rows(applicant_columns(sum(sizes), seed))
    batches, start = [], 0
    for size in sizes:
        batches.append(rows[start : start + size])
        start += size
    return batches


def post_json(url: str, body: Any) -> requests.Response:
    return requests.post(url, json=body, timeout=HTTP_TIMEOUT_SECONDS)


def concurrently(function: Callable[[Any], T], items: Iterable[Any], threads: int = 4) -> list[T]:
    """Apply `function` to every item from several client threads (both workers get work)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(function, items))
