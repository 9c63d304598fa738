"""Drift metrics from a real gunicorn with two workers, and the alert rules on what it measured.

- Each worker keeps its share of the window in its own file; a scrape on either worker sums both
  (the window's size is what both workers scored, up to their shares).
- Records like training keep every PSI under 0.10; an older, heavier population takes age and
  weight past 0.25 while the untouched features stay stable.
- The PSI values scraped in each phase are replayed through `promtool test rules` against
  deploy/prometheus/alerts.yml: the act alert fires for exactly the shifted features, and no
  drift alert fires on the unshifted stream.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from metrics_support import (
    WORKERS,
    concurrently,
    counts_by_file,
    post_json,
    record_batches,
    scrape,
)
from service_support import make_repository, served
from test_deploy import ALERTS, alert_rules, tool

from contract.reference import PSI_ACT, PSI_INVESTIGATE

WINDOW = 2_000  # 1,000 per worker
BATCH = 50
MODEL = "underwriting"


@pytest.fixture(scope="module")
def live(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("drift-gunicorn")
    models_dir = make_repository(tiny_models_dir, root / "models")
    metrics_dir = root / "prometheus-multiproc"
    metrics_dir.mkdir()
    with served(
        models_dir,
        root / "gunicorn.log",
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        workers=str(WORKERS),
        drift_window_records=str(WINDOW),
    ) as (base_url, _process):
        yield base_url, metrics_dir


def send(base_url: str, batches: list[list[dict[str, Any]]]) -> None:
    url = f"{base_url}/v1/models/{MODEL}:predict"
    statuses = concurrently(lambda rows: post_json(url, {"instances": rows}).status_code, batches)
    assert set(statuses) == {200}


def per_worker(metrics_dir: Path) -> dict[str, float]:
    return counts_by_file(metrics_dir, "underwriting_predictions_total", model="risk_class")


def drift(samples: dict[Any, float]) -> tuple[dict[str, float], dict[str, float], float]:
    """(feature PSI, output PSI, window records) of the composite in one scrape."""
    features, outputs, records = {}, {}, 0.0
    for (name, labels), value in samples.items():
        label = dict(labels)
        if label.get("model") != MODEL:
            continue
        if name == "underwriting_feature_psi":
            features[label["feature"]] = value
        elif name == "underwriting_output_psi":
            outputs[label["output"]] = value
        elif name == "underwriting_drift_window_records":
            records = value
    return features, outputs, records


def held(capacity: int, scored: int) -> int:
    """Records a worker's window holds after scoring `scored` in batches of BATCH.

    Blocks of a tenth of the window: once the first ten have filled, the nine latest full
    blocks and the current one's records.
    """
    block = capacity // 10
    assert block % BATCH == 0  # batches never straddle a block: no partial rolls to model
    return scored if scored < 10 * block else 9 * block + scored % block


def shifted(batches: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [
        [
            row | {"age": min(row["age"] + 15, 85), "weight_kg": row["weight_kg"] + 20.0}
            for row in rows
        ]
        for rows in batches
    ]


def test_drift_is_merged_across_workers_and_the_alerts_follow(live: Any, tmp_path: Path) -> None:
    base_url, metrics_dir = live
    # 2,400 records like training: each worker's share fills only if it got 1,000 of them.
    send(base_url, record_batches([BATCH] * 48, seed=51))
    served_by = per_worker(metrics_dir)
    assert len(served_by) == WORKERS and all(served_by.values()), served_by
    windows = sorted(metrics_dir.glob(f"drift-{MODEL}-*.counts"))
    assert len(windows) == WORKERS, windows  # one window file per worker
    features, outputs, records = drift(scrape(base_url))
    share = WINDOW // WORKERS
    assert records == sum(held(share, int(n)) for n in served_by.values())
    assert max(features.values()) < PSI_INVESTIGATE, features
    assert max(outputs.values()) < PSI_INVESTIGATE, outputs
    calm = (features, outputs, records)

    # 6,000 older, heavier applicants: both workers' windows are replaced by them.
    before = per_worker(metrics_dir)
    send(base_url, shifted(record_batches([BATCH] * 120, seed=52)))
    after = per_worker(metrics_dir)
    assert all(after[pid] - before.get(pid, 0) >= share for pid in after), (before, after)
    features, outputs, records = drift(scrape(base_url))
    assert records == sum(held(share, int(n)) for n in after.values())
    assert features["age"] > PSI_ACT and features["weight_kg"] > PSI_ACT, features
    drifted = {name for name, psi in features.items() if psi >= PSI_ACT}
    assert drifted == {"age", "weight_kg"}, features

    print(
        f"\nPSI unshifted: max feature {max(calm[0].values()):.4f}, max output "
        f"{max(calm[1].values()):.4f}; shifted: age {features['age']:.3f}, weight_kg "
        f"{features['weight_kg']:.3f}, outputs {json.dumps(outputs)}"
    )
    replay_through_alert_rules(tmp_path, calm, (features, outputs, records))


def replay_through_alert_rules(
    tmp_path: Path,
    calm: tuple[dict[str, float], dict[str, float], float],
    moved: tuple[dict[str, float], dict[str, float], float],
) -> None:
    """promtool test rules over the scraped values held for an hour: who fires, who does not."""
    rules = {rule["alert"]: rule for rule in alert_rules() if "alert" in rule}
    tests = []
    for phase, (features, outputs, records) in (("calm", calm), ("moved", moved)):
        instance = f"{phase}:8080"
        series = [_series("underwriting_drift_window_records", instance, {}, records)]
        series += [
            _series("underwriting_feature_psi", instance, {"feature": f}, v)
            for f, v in features.items()
        ]
        series += [
            _series("underwriting_output_psi", instance, {"output": o}, v)
            for o, v in outputs.items()
        ]
        checks = []
        for alert, variables, kind, low, high in (
            ("UnderwritingFeatureDriftAct", features, "feature", PSI_ACT, None),
            ("UnderwritingFeatureDriftInvestigate", features, "feature", PSI_INVESTIGATE, PSI_ACT),
            ("UnderwritingOutputDriftAct", outputs, "output", PSI_ACT, None),
            ("UnderwritingOutputDriftInvestigate", outputs, "output", PSI_INVESTIGATE, PSI_ACT),
        ):
            expected = [
                _expected(rules[alert], instance, {kind: name}, value)
                for name, value in sorted(variables.items())
                if value >= low and (high is None or value < high)
            ]
            checks.append({"eval_time": "45m", "alertname": alert, "exp_alerts": expected})
        if phase == "moved":
            fired = [c for c in checks if c["alertname"] == "UnderwritingFeatureDriftAct"]
            assert len(fired[0]["exp_alerts"]) == 2  # age and weight_kg
        else:
            assert not any(c["exp_alerts"] for c in checks)
        tests.append(
            {
                "name": f"{phase} stream",
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": checks,
            }
        )
    test_file = tmp_path / "drift_replay_test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
        )
    )
    result = subprocess.run(
        [tool("promtool"), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _labels(instance: str, extra: dict[str, str]) -> dict[str, str]:
    return {"job": "underwriting", "instance": instance, "model": MODEL} | extra


def _series(name: str, instance: str, extra: dict[str, str], value: float) -> dict[str, str]:
    labels = ", ".join(f'{k}="{v}"' for k, v in _labels(instance, extra).items())
    return {"series": f"{name}{{{labels}}}", "values": f"{value}x60"}


def _expected(
    rule: dict[str, Any], instance: str, extra: dict[str, str], value: float
) -> dict[str, Any]:
    """The alert promtool must see: the rule's labels and its annotations rendered for `value`."""
    labels = _labels(instance, extra)

    def render(template: str) -> str:
        text = re.sub(r'{{ \$value \| printf \\?"%\.2f\\?" }}', f"{value:.2f}", template)
        return re.sub(r"{{ \$labels\.(\w+) }}", lambda m: labels[m.group(1)], text).strip()

    return {
        "exp_labels": labels | rule["labels"],
        "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()},
    }
