"""Underwriters' cases over HTTP: the queue, reading, claiming and releasing, and which API
keys reach them (a client's none, an auditor's reads, an underwriter's all).

Over the trained fixture models and the shipped policy, with keys of every role configured.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import make_repository

from service.callers import key_id

PREDICT = "/v1/models/underwriting:predict"
EXAMPLE = json.loads((Path(__file__).parents[2] / "examples" / "applicant.json").read_text())
ABOVE_LIMIT = EXAMPLE | {"requested_coverage": 2_500_000}  # referred: above the accelerated limit
KEYS = {"client": "c" * 32, "alice": "a" * 32, "bob": "b" * 32, "auditor": "d" * 32}
ROLES = {"alice": "underwriter", "bob": "underwriter", "auditor": "auditor"}


def as_key(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture(scope="module")
def app(trained_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    root = tmp_path_factory.mktemp("cases")
    roles = ",".join(f"{key_id(KEYS[name])}={role}:{name}" for name, role in ROLES.items())
    settings = Settings(
        models_dir=make_repository(trained_models_dir, root / "models"),
        decisions_database=root / "decisions.sqlite3",
        reload_interval_seconds=3600,
        api_keys=",".join(KEYS.values()),
        api_key_roles=roles,
        case_audit_share=0.0,
    )
    flask_app = create_app(settings)
    store = flask_app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready(), store.not_ready_reason("underwriting")
    yield flask_app
    store.stop()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def referred(client: Any) -> int:
    """Send a referred applicant as the client; return the id of the case it opened."""
    sent = client.post(PREDICT, json={"instances": [ABOVE_LIMIT]}, headers=as_key("client"))
    assert sent.status_code == 200
    assert sent.get_json()["predictions"][0]["decision"]["outcome"] == "refer"
    records = client.get(f"/v1/decisions/{sent.headers['X-Request-ID']}", headers=as_key("client"))
    return int(records.get_json()["decisions"][0]["sequence"])


def case_routes(app: Any) -> list[tuple[str, str]]:
    """Every case route, as (method, path) with a case id filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("cases."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, re.sub(r"<[^>]*case_id>", "1", rule.rule)))
    return routes


def test_an_underwriter_works_a_referral_and_its_history_says_who_did_what(client: Any) -> None:
    case_id = referred(client)
    queue = client.get("/v1/cases?state=open&kind=referral", headers=as_key("alice")).get_json()
    assert case_id in [c["case_id"] for c in queue["cases"]]
    listed = next(c for c in queue["cases"] if c["case_id"] == case_id)
    assert "applicant" not in listed  # the queue shows no applicant's values
    read = client.get(f"/v1/cases/{case_id}", headers=as_key("alice"))
    assert read.status_code == 200
    case = read.get_json()
    assert case["applicant"] == ABOVE_LIMIT and case["outcome"] == "refer"
    assert case["record"]["decision"]["rules"][0]["code"] == "RF04"
    assert case["history"][-1]["actor"] == "alice" and case["history"][-1]["action"] == "read"
    claimed = client.post(f"/v1/cases/{case_id}/claim", headers=as_key("alice")).get_json()
    assert (claimed["state"], claimed["assignee"]) == ("assigned", "alice")
    taken = client.post(f"/v1/cases/{case_id}/claim", headers=as_key("bob"))
    assert taken.status_code == 409 and "claimed by 'alice'" in taken.get_json()["error"]
    refused = client.post(f"/v1/cases/{case_id}/release", headers=as_key("bob"))
    assert refused.status_code == 403
    released = client.post(f"/v1/cases/{case_id}/release", headers=as_key("alice")).get_json()
    assert released["state"] == "open"
    assert [(e["actor"], e["action"]) for e in released["history"]] == [
        ("alice", "read"),
        ("alice", "claimed"),
        ("alice", "released"),
    ]
    audited = client.get(f"/v1/cases/{case_id}", headers=as_key("auditor")).get_json()
    assert audited["history"][-1] == audited["history"][-1] | {"actor": "auditor", "action": "read"}


def test_a_client_key_reaches_no_case_route(app: Any, client: Any) -> None:
    referred(client)
    routes = case_routes(app)
    assert len(routes) == 4
    for method, path in routes:
        answer = client.open(path, method=method, headers=as_key("client"))
        assert answer.status_code == 403, (method, path)
        assert "role 'client'" in answer.get_json()["error"]


def test_an_auditor_reads_cases_and_changes_none(app: Any, client: Any) -> None:
    case_id = referred(client)
    for method, path in case_routes(app):
        path = path.replace("/1", f"/{case_id}")
        answer = client.open(path, method=method, headers=as_key("auditor"))
        assert answer.status_code == (200 if method == "GET" else 403), (method, path)
    state = client.get(f"/v1/cases/{case_id}", headers=as_key("auditor")).get_json()["state"]
    assert state == "open"


def test_underwriter_and_auditor_keys_do_not_predict(client: Any) -> None:
    for name in ("alice", "auditor"):
        answer = client.post(PREDICT, json={"instances": [EXAMPLE]}, headers=as_key(name))
        assert answer.status_code == 403, name
        assert f"role '{ROLES[name]}'" in answer.get_json()["error"]
    assert client.get("/v1/models/underwriting", headers=as_key("alice")).status_code == 200


def test_the_auditor_role_reads_every_caller_s_decisions(client: Any) -> None:
    sent = client.post(PREDICT, json={"instances": [EXAMPLE]}, headers=as_key("client"))
    path = f"/v1/decisions/{sent.headers['X-Request-ID']}"
    assert client.get(path, headers=as_key("auditor")).status_code == 200
    assert client.get(path, headers=as_key("alice")).status_code == 403


@pytest.mark.parametrize(
    "query, named",
    [
        ("state=closed", "state"),
        ("kind=everything", "kind"),
        ("outcome=maybe", "outcome"),
        ("reason=R0%25", "reason"),
        ("limit=0", "limit"),
        ("after=-1", "after"),
        ("colour=red", "colour"),
        ("state=open&state=assigned", "state"),
    ],
)
def test_a_bad_queue_parameter_is_a_400_naming_it(client: Any, query: str, named: str) -> None:
    answer = client.get(f"/v1/cases?{query}", headers=as_key("alice"))
    assert answer.status_code == 400
    assert named in answer.get_json()["details"]


def test_an_unknown_case_is_a_404(client: Any) -> None:
    for path in ("/v1/cases/999999", "/v1/cases/not-a-number"):
        answer = client.get(path, headers=as_key("alice"))
        assert answer.status_code == 404 and "error" in answer.get_json()


def test_without_api_keys_no_case_route_serves(app: Any, tmp_path: Path) -> None:
    from api_support import app_over

    open_app = app_over(app, decisions_database=tmp_path / "decisions.sqlite3")
    for method, path in case_routes(open_app):
        answer = open_app.test_client().open(path, method=method)
        assert answer.status_code == 403
        assert "personal data" in answer.get_json()["error"]


def test_the_queue_s_depth_and_oldest_age_are_metrics(client: Any) -> None:
    def gauges() -> dict[str, float]:
        text = client.get("/metrics").get_data(as_text=True)
        return {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith(("underwriting_cases{", "underwriting_case_oldest_age_seconds{"))
        }

    case_id = referred(client)
    before = gauges()
    open_cases = 'underwriting_cases{state="open"}'
    assigned = 'underwriting_cases{state="assigned"}'
    assert before[open_cases] >= 1
    assert before['underwriting_case_oldest_age_seconds{state="open"}'] >= 0
    client.post(f"/v1/cases/{case_id}/claim", headers=as_key("alice"))
    after = gauges()
    assert after[open_cases] == before[open_cases] - 1
    assert after[assigned] == before[assigned] + 1
    client.post(f"/v1/cases/{case_id}/release", headers=as_key("alice"))
    assert gauges()[open_cases] == before[open_cases]
