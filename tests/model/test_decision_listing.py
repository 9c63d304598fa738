"""Finding decisions by time: `GET /v1/decisions?from=&to=&after=&limit=` and
`python -m service.decisions show`, over the tiny models, each test with its own store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from api_support import app_over
from service_support import applicant_columns, columns_to_rows

PREDICT = "/v1/models/underwriting:predict"
ROWS = columns_to_rows(applicant_columns(rows=2, seed=47))
LISTING = "/v1/decisions"


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def now_between_requests() -> str:
    """A time after every decision recorded so far and before any recorded next."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return rfc3339(moment)


def decide(
    client: Any, request_id: str, records: int, headers: dict[str, str] | None = None
) -> None:
    sent = client.post(
        PREDICT,
        json={"instances": ROWS[:records]},
        headers={"X-Request-ID": request_id} | (headers or {}),
    )
    assert sent.status_code == 200, sent.get_json()


def listed(client: Any, headers: dict[str, str] | None = None, /, **query: Any) -> dict[str, Any]:
    response = client.get(LISTING, query_string=query, headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "decisions.sqlite3"


@pytest.fixture
def recorded(app: Any, database: Path) -> tuple[Any, dict[str, str]]:
    """A service over its own store: a request decided before the range, two in it, one
    after. The client, and the range's ends."""
    client = app_over(app, decisions_database=database).test_client()
    decide(client, "before-1", 2)
    start = now_between_requests()
    decide(client, "inside-1", 2)
    decide(client, "inside-2", 1)
    end = now_between_requests()
    decide(client, "after-1", 1)
    return client, {"from": start, "to": end}


def ids(page: dict[str, Any]) -> list[tuple[str, int]]:
    return [(d["request_id"], d["index"]) for d in page["decisions"]]


def test_a_time_range_lists_its_decisions_as_recorded(recorded: tuple[Any, dict[str, str]]) -> None:
    client, span = recorded
    page = listed(client, **span)
    assert ids(page) == [("inside-1", 0), ("inside-1", 1), ("inside-2", 0)]
    assert page["next"] is None
    by_id = client.get("/v1/decisions/inside-1").get_json()["decisions"]
    assert page["decisions"][:2] == by_id  # the same records, chain hashes and all
    assert ids(listed(client, **{"from": span["to"]})) == [("after-1", 0)]
    assert ids(listed(client, to=span["from"])) == [("before-1", 0), ("before-1", 1)]
    assert len(listed(client)["decisions"]) == 6  # no range: every decision


def test_pages_follow_one_another_by_sequence(recorded: tuple[Any, dict[str, str]]) -> None:
    client, span = recorded
    first = listed(client, **span, limit=2)
    assert ids(first) == [("inside-1", 0), ("inside-1", 1)]
    assert first["next"] == first["decisions"][-1]["sequence"]
    second = listed(client, **span, limit=2, after=first["next"])
    assert ids(second) == [("inside-2", 0)] and second["next"] is None
    exact = listed(client, **span, limit=3)  # a full last page: no page after it
    assert len(exact["decisions"]) == 3 and exact["next"] is None
    assert len(listed(client)["decisions"]) == 6  # the default page holds them all
    everything = listed(client, limit=1000)["decisions"]
    assert listed(client, after=everything[-1]["sequence"]) == {"decisions": [], "next": None}


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("from=yesterday", "from"),
        ("to=2026-12-01", "to"),
        ("from=2026-12-01T00:00:00", "from"),  # no time zone
        ("from=2026-12-01T01:00:00+01:00", "from"),  # the '+' arrives as a space: say so
        ("from=2026-02-30T00:00:00Z", "from"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("after=-1", "after"),
        ("after=9223372036854775808", "after"),  # beyond a 64-bit sequence
        ("after=3.5", "after"),
        ("since=2026-12-01T00:00:00Z", "since"),  # misspelt: it would widen the list
        ("limit=5&limit=6", "limit"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    recorded: tuple[Any, dict[str, str]], query: str, parameter: str
) -> None:
    client, _ = recorded
    response = client.get(f"{LISTING}?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"error", "details"} and list(body["details"]) == [parameter]
    assert f"{parameter}" in body["error"]
    if "+01:00" in query:
        assert "%2B" in body["error"]


def test_a_time_with_an_offset_is_the_same_moment(recorded: tuple[Any, dict[str, str]]) -> None:
    client, span = recorded
    india = timezone(timedelta(hours=5, minutes=30))  # sent as +05:30, '+' encoded as %2B
    start = datetime.fromisoformat(span["from"]).astimezone(india).isoformat()
    assert "+05:30" in start
    assert listed(client, **{"from": start, "to": span["to"]}) == listed(client, **span)


def test_a_key_lists_its_own_decisions_and_a_reader_lists_all(app: Any, database: Path) -> None:
    from service.callers import key_id

    keys = {"insurer-a": "a" * 32, "insurer-b": "b" * 32, "auditor": "c" * 32}
    keyed = app_over(
        app,
        decisions_database=database,
        api_keys=",".join(keys.values()),
        decision_readers=key_id(keys["auditor"]),
    ).test_client()

    def as_key(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[name]}"}

    decide(keyed, "a-1", 2, as_key("insurer-a"))
    decide(keyed, "b-1", 1, as_key("insurer-b"))
    decide(keyed, "a-2", 1, as_key("insurer-a"))
    own = listed(keyed, as_key("insurer-a"))
    assert ids(own) == [("a-1", 0), ("a-1", 1), ("a-2", 0)]
    assert {d["key_id"] for d in own["decisions"]} == {key_id(keys["insurer-a"])}
    paged = listed(keyed, as_key("insurer-a"), limit=2)
    assert ids(paged) == ids(own)[:2] and paged["next"] is not None
    rest = listed(keyed, as_key("insurer-a"), after=paged["next"])
    assert ids(rest) == [("a-2", 0)] and rest["next"] is None
    assert ids(listed(keyed, as_key("insurer-b"))) == [("b-1", 0)]
    everyone = listed(keyed, as_key("auditor"))
    assert ids(everyone) == [("a-1", 0), ("a-1", 1), ("b-1", 0), ("a-2", 0)]
    refused = keyed.get(LISTING)
    assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
    # Without API keys, as for one request's decisions: whoever reaches the service reads all.
    open_service = app_over(app, decisions_database=database).test_client()
    assert listed(open_service) == everyone


def test_a_store_that_cannot_be_read_is_a_503(app: Any, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    broken = app_over(app, decisions_database=blocked / "d.sqlite3").test_client()
    response = broken.get(LISTING)
    assert response.status_code == 503 and set(response.get_json()) == {"error", "details"}


def test_the_document_describes_the_listing(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/v1/decisions"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert list(parameters) == ["from", "to", "after", "limit"]
    assert parameters["from"]["x-not-after-to"] is True
    assert parameters["limit"]["schema"] | {} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 100,
    }
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/DecisionPage"}
    assert "400" in operation["responses"]


def show(database: Path, models_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "SERVICE_MODELS_DIR": str(models_dir),
        "SERVICE_DECISIONS_DATABASE": str(database),
    }
    command = [sys.executable, "-m", "service.decisions", "show", *arguments]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_shows_a_request_or_a_range_as_json_lines(
    recorded: tuple[Any, dict[str, str]], database: Path, service_models_dir: Path
) -> None:
    client, span = recorded
    by_id = show(database, service_models_dir, "inside-1")
    assert by_id.returncode == 0, by_id.stderr
    lines = [json.loads(line) for line in by_id.stdout.splitlines()]
    assert lines == client.get("/v1/decisions/inside-1").get_json()["decisions"]
    ranged = show(database, service_models_dir, "--from", span["from"], "--to", span["to"])
    assert ranged.returncode == 0, ranged.stderr
    lines = [json.loads(line) for line in ranged.stdout.splitlines()]
    assert lines == listed(client, **span)["decisions"]
    first = show(database, service_models_dir, "--from", span["from"], "--limit", "2")
    assert [json.loads(line)["request_id"] for line in first.stdout.splitlines()] == [
        "inside-1",
        "inside-1",
    ]
    assert f"--after {lines[1]['sequence']}" in first.stderr  # where the rest starts
    rest = show(database, service_models_dir, "--after", str(lines[1]["sequence"]))
    assert [json.loads(line)["request_id"] for line in rest.stdout.splitlines()] == [
        "inside-2",
        "after-1",
    ]
    none = show(database, service_models_dir, "--from", span["to"], "--to", span["to"])
    assert none.returncode == 1 and none.stdout == ""
    unknown = show(database, service_models_dir, "never-sent")
    assert unknown.returncode == 1 and "never-sent" in unknown.stderr
    bad = show(database, service_models_dir, "--from", "yesterday")
    assert bad.returncode == 2 and "'from'" in bad.stderr
