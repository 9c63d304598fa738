"""Decisions through the service: outcome, offer, reasons, the record, the policy's lifecycle.

Over the 20,000-row trained models (the command's output) and the shipped policy, so that
applicants decide as an underwriter expects.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_support import v2_request
from service_support import applicant_columns, columns_to_rows, make_repository

from policy.document import POLICY_FILE, read_policy, sealed
from policy.publish import DEFAULT_SOURCE, load_source
from service.decisions.letter import NotAdverse, labels, render

PREDICT = "/v1/models/underwriting:predict"
EXAMPLE = json.loads((Path(__file__).parents[2] / "examples" / "applicant.json").read_text())
RISKY = EXAMPLE | {
    "tobacco_use": "current",
    "systolic_bp": 172,
    "diastolic_bp": 104,
    "hba1c": 8.4,
    "diabetes": "type_2",
    "bp_treatment": True,
}
POLICY = load_source(DEFAULT_SOURCE)
DIRECTED = set(POLICY.wording)


@pytest.fixture(scope="module")
def repository(trained_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repository(trained_models_dir, tmp_path_factory.mktemp("decide") / "models")


@pytest.fixture(scope="module")
def app(repository: Path) -> Iterator[Any]:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    flask_app = create_app(Settings(models_dir=repository, reload_interval_seconds=3600))
    store = flask_app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready(), store.not_ready_reason("underwriting")
    yield flask_app
    store.stop()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def post(client: Any, url: str, payload: Any, request_id: str | None = None) -> Any:
    headers = {"X-Request-ID": request_id} if request_id else {}
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", headers=headers
    )


def decide(client: Any, *records: dict[str, Any], **envelope: Any) -> list[dict[str, Any]]:
    response = post(client, PREDICT, {"instances": list(records)} | envelope)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [p["decision"] for p in response.get_json()["predictions"]]


def test_a_healthy_applicant_is_accepted_standard_with_an_offer_and_no_reasons(
    client: Any,
) -> None:
    response = post(client, PREDICT, {"instances": [EXAMPLE]})
    body = response.get_json()
    assert body["model_versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }
    prediction = body["predictions"][0]
    decision = prediction["decision"]
    assert decision["outcome"] == "accept" and decision["risk_class"] == "standard"
    expected = min(prediction["max_coverage"] // 10_000 * 10_000, POLICY.accelerated_limit)
    assert decision["offer"] == expected
    assert (decision["reasons"], decision["rules"]) == ([], [])
    assert decision["policy_version"] == 1


def test_an_adverse_decision_gives_at_most_four_ranked_reasons_with_the_applicants_values(
    client: Any,
) -> None:
    (decision,) = decide(client, RISKY)
    assert decision["outcome"] in ("decline", "accept", "refer")
    assert decision["risk_class"] != "standard"
    reasons = decision["reasons"]
    assert 1 <= len(reasons) <= 4 and decision["reasons_complete"] is True
    contributions = [r["contribution"] for r in reasons]
    assert contributions == sorted(contributions, reverse=True)
    for reason in reasons:
        assert reason["feature"] in DIRECTED  # never age, sex, money or a score
        assert reason["value"] == RISKY[reason["feature"]]
        assert reason["text"] == POLICY.wording[reason["feature"]].text
        assert reason["contribution"] >= POLICY.minimum_contribution
    cited = {r["feature"] for r in reasons}
    assert cited & {"tobacco_use", "systolic_bp", "hba1c", "diabetes"}


def test_a_knock_out_declines_whatever_the_model_says_and_is_the_first_reason(
    client: Any,
) -> None:
    (decision,) = decide(client, EXAMPLE | {"hba1c": 10.6})
    assert decision["outcome"] == "decline" and decision["offer"] is None
    assert decision["reasons"][0] | {"contribution": 0} == {
        "code": "KO01",
        "feature": "hba1c",
        "text": POLICY.knock_outs[0].wording.text,
        "value": 10.6,
        "contribution": 0,
    }
    assert decision["rules"][0]["rule"] == "knock_out"


def risk_class_metadata(client: Any) -> dict[str, Any]:
    models_dir = Path(client.application.extensions["model_store"].models_dir)
    return dict(json.loads((models_dir / "risk_class" / "1" / "metadata.json").read_text()))


def test_an_applicant_outside_the_training_ranges_is_referred(client: Any) -> None:
    metadata = risk_class_metadata(client)
    knocked = {rule.feature for rule in POLICY.knock_outs}
    beyond = [
        (f["name"], f["maximum"], metadata["training_ranges"][f["name"]])
        for f in metadata["features"]
        if f["name"] in metadata["training_ranges"]
        and f["name"] not in knocked
        and metadata["training_ranges"][f["name"]][1] < f["maximum"]
    ]
    assert beyond, "every declared maximum was seen in training"
    name, maximum, (low, high) = beyond[0]
    (decision,) = decide(client, EXAMPLE | {name: maximum})
    assert decision["outcome"] == "refer"  # the model extrapolates: an underwriter decides
    expected = {
        "rule": "out_of_range",
        "code": "RF02",
        "text": POLICY.out_of_range.text,
        "feature": name,
        "value": maximum,
        "range": [low, high],
    }
    assert expected in decision["rules"]


def test_a_requested_amount_above_the_limit_refers_an_acceptance(client: Any) -> None:
    accepted, referred, small = decide(
        client,
        EXAMPLE,
        EXAMPLE | {"requested_coverage": 2_500_000},
        EXAMPLE | {"requested_coverage": 100_000},
    )
    assert accepted["outcome"] == "accept" and small["outcome"] == "accept"
    assert referred["outcome"] == "refer"
    assert referred["rules"] == [
        {
            "rule": "face_amount",
            "code": "RF04",
            "text": POLICY.above_limit.text,
            "requested": 2_500_000.0,
            "limit": POLICY.accelerated_limit,
        }
    ]


@pytest.mark.parametrize(
    "value, message",
    [(-1, "greater than or equal to 0"), ("lots", "Not a valid number"), (None, "null")],
)
def test_a_bad_requested_amount_is_a_400_naming_the_field(
    client: Any, value: Any, message: str
) -> None:
    response = post(client, PREDICT, {"instances": [EXAMPLE | {"requested_coverage": value}]})
    assert response.status_code == 400
    errors = response.get_json()["details"]["records"]["0"]["requested_coverage"]
    assert message.lower() in " ".join(errors).lower()


def test_reasons_can_be_skipped_for_bulk_scoring(client: Any) -> None:
    (decision,) = decide(client, RISKY, explain=False)
    assert decision["reasons"] == [] and decision["reasons_complete"] is None
    (knocked,) = decide(client, RISKY | {"dui_count_5y": 4}, explain=False)
    assert [(r["code"], r["contribution"]) for r in knocked["reasons"]] == [("KO02", None)]
    response = post(client, PREDICT, {"instances": [EXAMPLE], "explain": "no"})
    assert response.status_code == 400 and "explain" in response.get_json()["details"]


@pytest.mark.parametrize("explain", [True, False])
def test_a_batchs_decisions_are_written_in_one_pass_as_each_typed_decision_writes_itself(
    app: Any, explain: bool
) -> None:
    from service.app import DATAPLANE_KEY
    from service.assessing import assess

    servable = app.extensions[DATAPLANE_KEY].servable("underwriting")
    metadata = risk_class_metadata(app.test_client())
    knocked = {rule.feature for rule in POLICY.knock_outs}
    name, maximum = next(
        (f["name"], f["maximum"])
        for f in metadata["features"]
        if f["name"] in metadata["training_ranges"]
        and f["name"] not in knocked
        and metadata["training_ranges"][f["name"]][1] < f["maximum"]
    )
    unusual = [
        RISKY,
        RISKY | {"dui_count_5y": 4},  # a knock-out with attributions
        EXAMPLE | {"hba1c": 10.6},
        EXAMPLE | {name: maximum},  # out of the training range
        EXAMPLE | {"requested_coverage": 2_500_000},
        EXAMPLE | {"requested_coverage": 100_000},
    ]
    rows = columns_to_rows(applicant_columns(300, 11)) + unusual
    valid = servable.validator.rows_valid(rows, len(rows))
    decided = assess(servable, valid, explain).decided
    assert decided is not None
    expected = [decision.to_json() for decision in decided.per_record()]
    assert decided.shown() == expected
    assert json.dumps(decided.shown()) == json.dumps(expected)  # the same keys, in order
    kinds = {rule["rule"] for shown in expected for rule in shown["rules"]}
    assert {"knock_out", "out_of_range", "face_amount"} <= kinds
    assert {shown["outcome"] for shown in expected} == {"accept", "refer", "decline"}
    assert any(shown["reasons"] for shown in expected)


def test_reasons_ranked_at_once_are_each_adverse_records_own_ranking(app: Any) -> None:
    from policy.decide import non_empty
    from policy.reasons import reasons
    from service.app import DATAPLANE_KEY
    from service.assessing import assess
    from service.decisions.deciding import classifier
    from service.decisions.explaining import attribute, subset

    servable = app.extensions[DATAPLANE_KEY].servable("underwriting")
    rows = columns_to_rows(applicant_columns(400, 12)) + [RISKY, RISKY | {"dui_count_5y": 4}]
    valid = servable.validator.rows_valid(rows, len(rows))
    assessed = assess(servable, valid, True)
    decided = assessed.decided
    assert decided is not None
    model = classifier(servable)
    explained = model.metadata.explain
    assert explained is not None and model.explainer is not None
    policy, best = servable.policy, (model.metadata.class_names or ("",))[0]
    assert policy is not None
    rated = [i for i, c in enumerate(decided.decisions.risk_class.tolist()) if c != best]
    found = attribute(explained, model.explainer, subset(assessed.batch, np.asarray(rated)))
    knocks = non_empty(decided.decisions.knocked_out)
    assert any(i in knocks for i in rated) and any(i not in knocks for i in rated)
    for k, i in enumerate(rated):
        target = explained.target_for(decided.decisions.risk_class[i], best)
        row = dict(zip(explained.features, found.by_target[target][k].tolist(), strict=True))
        applicant = {name: valid.value(i, name) for name in explained.features}
        applicant |= {rule.feature: valid.value(i, rule.feature) for rule in policy.knock_outs}
        assert decided.reasons[i] == reasons(policy, knocks.get(i, []), row, applicant), i


def test_columns_and_v2_carry_the_same_decisions(client: Any) -> None:
    columns = applicant_columns(rows=6, seed=5)
    rows = columns_to_rows(columns)
    by_rows = decide(client, *rows)
    response = post(client, PREDICT, {"inputs": columns})
    assert response.get_json()["outputs"]["decision"] == by_rows
    features = risk_class_metadata(client)["features"]
    v2 = post(client, "/v2/models/underwriting/infer", v2_request(columns, features))
    outputs = {o["name"]: o for o in v2.get_json()["outputs"]}
    assert outputs["decision"]["datatype"] == "BYTES"
    assert [json.loads(d) for d in outputs["decision"]["data"]] == by_rows
    request = v2_request(columns, features) | {"parameters": {"explain": False}}
    request["inputs"].append(
        {"name": "requested_coverage", "datatype": "FP64", "shape": [6], "data": [5e6] * 6}
    )
    skipped = post(client, "/v2/models/underwriting/infer", request).get_json()["outputs"]
    decided = [json.loads(d) for d in skipped[-1]["data"]]
    assert all(d["reasons_complete"] is None for d in decided if d["risk_class"] != "standard")
    assert all(d["outcome"] != "accept" for d in decided)  # every amount is above the limit
    bad = request | {"parameters": {"explain": "no"}}
    assert post(client, "/v2/models/underwriting/infer", bad).status_code == 400


def test_every_decision_is_recorded_and_read_back_by_request_id(client: Any) -> None:
    response = post(client, PREDICT, {"instances": [EXAMPLE, RISKY]}, request_id="case-2026-0001")
    given = [p["decision"] for p in response.get_json()["predictions"]]
    stored = client.get("/v1/decisions/case-2026-0001")
    assert stored.status_code == 200
    records = stored.get_json()["decisions"]
    assert [r["decision"] for r in records] == given
    assert [r["index"] for r in records] == [0, 1]
    assert records[1]["previous_hash"] == records[0]["hash"]
    assert records[0]["model_versions"] == {
        "risk_class": 1,
        "max_coverage": 1,
        "underwriting_policy": 1,
    }
    from service.decisions.store import fingerprint

    assert records[1]["fingerprint"] == fingerprint(RISKY)
    assert "systolic_bp" not in json.dumps(records[0])  # the applicant's record is not stored
    missing = client.get("/v1/decisions/no-such-request")
    assert missing.status_code == 404 and "no-such-request" in missing.get_json()["error"]


def test_a_request_sent_again_is_answered_from_the_record_and_recorded_once(
    client: Any,
) -> None:
    """The request id is an idempotency key: a client (or the front) may send a request again
    and gets the same answer, marked as a replay, with nothing written."""
    from service.observability.exposition import exposition

    def counted(prefix: str) -> float:
        return sum(
            float(line.split()[-1])
            for line in exposition().decode().splitlines()
            if line.startswith(prefix)
        )

    payload = {"instances": [EXAMPLE, RISKY]}
    first = post(client, PREDICT, payload, request_id="retried-1")
    decided, replays = (
        counted("underwriting_decisions_total"),
        counted("underwriting_decision_replays_total"),
    )
    again = post(client, PREDICT, payload, request_id="retried-1")
    assert counted("underwriting_decisions_total") == decided  # the decision mix counts once
    assert counted("underwriting_decision_replays_total") == replays + 1
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    records = client.get("/v1/decisions/retried-1").get_json()["decisions"]
    assert [r["index"] for r in records] == [0, 1]  # two records, not four
    v2 = v2_request(applicant_columns(rows=2, seed=9), risk_class_metadata(client)["features"])
    v2_first = post(client, "/v2/models/underwriting/infer", v2, request_id="retried-v2")
    v2_again = post(client, "/v2/models/underwriting/infer", v2, request_id="retried-v2")
    assert v2_again.get_json() == v2_first.get_json()
    assert v2_again.headers["Idempotent-Replayed"] == "true"


def test_a_used_request_id_with_another_applicant_is_a_conflict_and_records_nothing(
    client: Any,
) -> None:
    assert post(client, PREDICT, {"instances": [EXAMPLE]}, request_id="shared-1").status_code == 200
    recorded = client.get("/v1/decisions/shared-1").get_json()["decisions"]
    other = post(client, PREDICT, {"instances": [RISKY]}, request_id="shared-1")
    assert other.status_code == 409
    body = other.get_json()
    assert "'shared-1'" in body["error"] and body["details"] == {"request_id": "shared-1"}
    assert client.get("/v1/decisions/shared-1").get_json()["decisions"] == recorded
    more = post(client, PREDICT, {"instances": [EXAMPLE, EXAMPLE]}, request_id="shared-1")
    assert more.status_code == 409


def test_a_key_reads_only_its_own_decisions_unless_the_operator_lets_it_read_all(
    app: Any, tmp_path: Path
) -> None:
    from service.app import STORE_KEY, create_app
    from service.callers import key_id
    from service.settings import Settings

    keys = {"insurer-a": "a" * 32, "insurer-b": "b" * 32, "auditor": "c" * 32}
    store = app.extensions[STORE_KEY]
    settings = Settings(
        models_dir=store.models_dir,
        decisions_database=tmp_path / "d.sqlite3",
        api_keys=",".join(keys.values()),
        decision_readers=key_id(keys["auditor"]),
    )
    keyed = create_app(settings, store=store).test_client()

    def as_key(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[name]}"}

    sent = keyed.post(PREDICT, json={"instances": [EXAMPLE]}, headers=as_key("insurer-a"))
    request_id = sent.headers["X-Request-ID"]
    own = keyed.get(f"/v1/decisions/{request_id}", headers=as_key("insurer-a"))
    assert own.status_code == 200
    assert own.get_json()["decisions"][0]["key_id"] == key_id(keys["insurer-a"])
    assert keys["insurer-a"] not in own.get_data(as_text=True)  # the id, never the key
    other = keyed.get(f"/v1/decisions/{request_id}", headers=as_key("insurer-b"))
    assert other.status_code == 404  # as if there were none: nothing is revealed
    unknown = keyed.get("/v1/decisions/never-sent", headers=as_key("insurer-b")).get_json()
    assert other.get_json()["error"] == unknown["error"].replace("never-sent", request_id)
    assert other.get_json()["details"] == {"request_id": request_id}
    audited = keyed.get(f"/v1/decisions/{request_id}", headers=as_key("auditor"))
    assert audited.get_json() == own.get_json()
    # The same request from another key is not a replay of insurer A's.
    taken = keyed.post(
        PREDICT,
        json={"instances": [EXAMPLE]},
        headers=as_key("insurer-b") | {"X-Request-ID": request_id},
    )
    assert taken.status_code == 409


def test_the_adverse_decision_letter_is_rendered_from_the_stored_record(
    client: Any, repository: Path
) -> None:
    response = post(client, PREDICT, {"instances": [RISKY]}, request_id="letter-1")
    decision = response.get_json()["predictions"][0]["decision"]
    env = os.environ | {"SERVICE_MODELS_DIR": str(repository)}
    command = [sys.executable, "-m", "service.decisions", "letter", "letter-1"]
    letter = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert letter.returncode == 0, letter.stderr
    text = letter.stdout
    assert text.startswith("NOTICE OF UNDERWRITING DECISION\n")
    assert "Reference: letter-1 (record 0)" in text
    for rank, reason in enumerate(decision["reasons"], 1):
        assert f"  {rank}. {reason['text']} ({reason['code']})." in text
    if any(r["feature"] == "systolic_bp" for r in decision["reasons"]):
        # The applicant's own value, described and with its unit, as the model declared them.
        assert "Systolic blood pressure at the exam: 172 mmHg" in text
    stored = client.get("/v1/decisions/letter-1").get_json()["decisions"][0]
    assert stored["fingerprint"] in text and stored["hash"] in text
    missing = subprocess.run(
        [*command[:-1], "no-such"], env=env, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1 and "no decision recorded for 'no-such'" in missing.stderr
    # A standard acceptance owes no adverse-action notice.
    assert decide(client, EXAMPLE)[0]["outcome"] == "accept"
    post(client, PREDICT, {"instances": [EXAMPLE]}, request_id="accepted-1")
    accepted = subprocess.run(
        [*command[:-1], "accepted-1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert accepted.returncode == 1 and "no notice" in accepted.stderr


DIABETIC_FORMER_SMOKER = EXAMPLE | {
    "diabetes": "type_2",
    "tobacco_use": "former_1_5y",
    "hba1c": 7.6,
}


def category_codes(repository: Path) -> list[str]:
    """Every category code of the served declaration that cannot pass for a word."""
    declared = labels(repository, "risk_class", 1).values()
    return [c for f in declared for c in f.categories or () if "_" in c]


def test_the_letter_names_categories_in_words_never_their_codes(
    client: Any, repository: Path, tmp_path: Path
) -> None:
    """The applicant reads "Diagnosed diabetes: Type 2", while the API and the record keep
    `type_2`; a version published before labels shows the code made readable."""
    response = post(client, PREDICT, {"instances": [DIABETIC_FORMER_SMOKER]}, request_id="words-1")
    decision = response.get_json()["predictions"][0]["decision"]
    assert {"diabetes", "tobacco_use"} <= {r["feature"] for r in decision["reasons"]}
    assert {r["value"] for r in decision["reasons"]} >= {"type_2", "former_1_5y"}  # codes
    env = os.environ | {"SERVICE_MODELS_DIR": str(repository)}
    command = [sys.executable, "-m", "service.decisions", "letter", "words-1"]
    letter = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert letter.returncode == 0, letter.stderr
    assert "Your application: Diagnosed diabetes: Type 2." in letter.stdout
    assert (
        "Tobacco or nicotine use and time since quitting: Former user, quit 1 to 5 years ago"
        in letter.stdout
    )
    codes = category_codes(repository)
    assert "type_2" in codes and not [code for code in codes if code in letter.stdout]
    # The same record under an older declaration, without labels: readable words still.
    older = tmp_path / "risk_class" / "1"
    older.mkdir(parents=True)
    metadata = json.loads((repository / "risk_class" / "1" / "metadata.json").read_text())
    for feature in metadata["features"]:
        feature.pop("category_labels", None)
    (older / "metadata.json").write_text(json.dumps(metadata))
    (record,) = client.get("/v1/decisions/words-1").get_json()["decisions"]
    text = render(record, labels(tmp_path, "risk_class", 1))
    assert "Diagnosed diabetes: Type 2." in text and "Former 1-5 years" in text
    assert not [code for code in codes if code in text]


def test_no_letter_shows_a_category_code(client: Any, repository: Path) -> None:
    """Over a sample of generated applicants, every adverse decision's letter: categories in
    the declared words, no code of any category (the codes with underscores cannot be words)."""
    rows = columns_to_rows(applicant_columns(rows=400, seed=31))
    response = post(client, PREDICT, {"instances": rows}, request_id="words-sample")
    assert response.status_code == 200
    records = client.get("/v1/decisions/words-sample").get_json()["decisions"]
    known, codes = labels(repository, "risk_class", 1), category_codes(repository)
    letters = []
    for record in records:
        try:
            letters.append((record, render(record, known)))
        except NotAdverse:
            continue
    assert len(letters) >= 40, len(letters)  # a sample with many adverse decisions
    shown = set()
    for record, text in letters:
        assert not [code for code in codes if code in text], text
        for reason in record["decision"]["reasons"]:
            feature = known[reason["feature"]]
            if feature.categories:
                words = feature.label(reason["value"])
                assert f"{feature.description.rstrip('.')}: {words}" in text
                shown.add(words)
    assert len(shown) >= 3, shown  # several categories' words were put to the test


def test_the_explain_endpoint_attributes_every_feature_of_every_record(client: Any) -> None:
    response = post(client, "/v1/models/underwriting:explain", {"instances": [EXAMPLE, RISKY]})
    assert response.status_code == 200
    healthy, risky = response.get_json()["explanations"]
    for explained in (healthy, risky):
        assert explained["complete"] is True
        for target in explained["targets"].values():
            assert set(target["attributions"]) == DIRECTED
            total = sum(target["attributions"].values())
            assert total == pytest.approx(
                target["difference"], abs=0.02 * abs(target["difference"]) + 1e-3
            )
    assert (
        risky["targets"]["non_standard"]["difference"]
        > healthy["targets"]["non_standard"]["difference"]
    )
    assert risky["targets"]["non_standard"]["attributions"]["tobacco_use"] > 0
    assert (
        post(client, "/v1/models/max_coverage:explain", {"instances": [EXAMPLE]}).status_code == 404
    )


def test_the_policy_is_not_a_model(client: Any) -> None:
    response = post(client, "/v1/models/underwriting_policy:predict", {"instances": [EXAMPLE]})
    assert response.status_code == 404 and "decision policy" in response.get_json()["error"]


def test_a_decision_that_cannot_be_recorded_is_not_given(app: Any, tmp_path: Path) -> None:
    from service.app import STORE_KEY, create_app
    from service.observability.exposition import exposition
    from service.settings import Settings

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    store = app.extensions[STORE_KEY]
    broken = create_app(
        Settings(models_dir=store.models_dir, decisions_database=blocked / "d.sqlite3"),
        store=store,
    ).test_client()

    def failures() -> float:
        for line in exposition().decode().splitlines():
            if line.startswith("underwriting_decision_record_failures_total "):
                return float(line.split()[-1])
        return 0.0

    before = failures()
    response = post(broken, PREDICT, {"instances": [EXAMPLE]}, request_id="lost-1")
    assert response.status_code == 503
    assert "could not be recorded" in response.get_json()["error"]
    assert response.get_json()["details"] == {"request_id": "lost-1"}
    assert failures() == before + 1
    assert broken.get("/healthz").status_code == 200  # the service goes on serving
    # Single models decide nothing, so they record nothing and still answer.
    single = post(broken, "/v1/models/risk_class:predict", {"instances": [EXAMPLE]})
    assert single.status_code == 200


def test_a_new_policy_version_decides_from_the_next_request_and_a_bad_one_is_refused(
    app: Any, client: Any, repository: Path
) -> None:
    from service.app import STORE_KEY

    store = app.extensions[STORE_KEY]
    stricter = dataclasses.replace(POLICY, version=2, minimum_top_probability=0.999)
    target = repository / "underwriting_policy" / "2"
    target.mkdir()
    (target / POLICY_FILE).write_text(json.dumps(sealed(stricter)))
    assert read_policy(target, 2).minimum_top_probability == 0.999
    store.refresh()
    (decision,) = decide(client, EXAMPLE)
    assert decision["policy_version"] == 2 and decision["outcome"] == "refer"
    assert decision["rules"][0]["rule"] == "confidence"
    broken = repository / "underwriting_policy" / "3"
    broken.mkdir()
    edited = sealed(dataclasses.replace(POLICY, version=3)) | {"description": "edited"}
    (broken / POLICY_FILE).write_text(json.dumps(edited))  # its seal no longer matches
    store.refresh()
    (decision,) = decide(client, EXAMPLE)
    assert decision["policy_version"] == 2
    statuses = client.get("/v1/models/underwriting").get_json()["model_version_status"]
    refused = [
        s for s in statuses if s.get("model") == "underwriting_policy" and s["version"] == "3"
    ]
    assert refused and "changed after publication" in refused[0]["status"]["error_message"]


def test_a_policy_that_does_not_fit_the_classifier_is_refused_as_a_version(
    app: Any, client: Any, repository: Path
) -> None:
    from service.app import build_store
    from service.settings import Settings

    store = app.extensions["model_store"]
    serving = client.get("/readyz").get_json()["models"]["underwriting"]["underwriting_policy"]
    unfit = dataclasses.replace(
        POLICY,
        version=9,
        reason_codes={k: v for k, v in POLICY.reason_codes.items() if k != "hba1c"},
        reason_texts={k: v for k, v in POLICY.reason_texts.items() if k != "R07"},
    )
    target = repository / "underwriting_policy" / "9"
    target.mkdir()
    (target / POLICY_FILE).write_text(json.dumps(sealed(unfit)))
    store.refresh()
    (decision,) = decide(client, EXAMPLE)
    assert str(decision["policy_version"]) == serving  # the fitting version keeps deciding
    statuses = client.get("/v1/models/underwriting").get_json()["model_version_status"]
    (refused,) = [
        s for s in statuses if s.get("model") == "underwriting_policy" and s["version"] == "9"
    ]
    assert (
        refused["state"] == "END"
        and "no reason wording for ['hba1c']" in refused["status"]["error_message"]
    )
    # A worker starting now skips the unfit version and decides with the newest that fits.
    fresh = build_store(Settings(models_dir=repository, reload_interval_seconds=3600))
    fresh.refresh()
    assert fresh.ready()
    assert str(fresh.get("underwriting").versions["underwriting_policy"]) == serving


def test_only_an_id_the_service_could_have_recorded_is_looked_up(client: Any) -> None:
    response = client.get("/v1/decisions/bad%00id")
    assert response.status_code == 404 and "\x00" not in response.get_data(as_text=True)


def test_the_openapi_document_describes_decisions(client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    assert "/v1/decisions/{request_id}" in document["paths"]
    assert "/v1/models/{name}:explain" in document["paths"]
    text = json.dumps(document)
    assert "requested_coverage" in text and "reasons" in text and "explain" in text


def test_a_large_batch_is_explained_in_chunks_exactly_as_one_record_at_a_time(
    client: Any,
) -> None:
    from service.decisions.explaining import CHUNK

    rows = columns_to_rows(applicant_columns(rows=CHUNK * 2 + 7, seed=23))
    url = "/v1/models/underwriting:explain"
    batch = post(client, url, {"instances": rows}).get_json()["explanations"]
    assert len(batch) == len(rows)
    for i in (0, CHUNK - 1, CHUNK, len(rows) - 1):
        (alone,) = post(client, url, {"instances": [rows[i]]}).get_json()["explanations"]
        for target, explained in alone["targets"].items():
            assert batch[i]["targets"][target]["difference"] == pytest.approx(
                explained["difference"], abs=1e-6
            )
            for feature, value in explained["attributions"].items():
                assert batch[i]["targets"][target]["attributions"][feature] == pytest.approx(
                    value, abs=1e-5
                )


def test_explain_takes_at_most_a_thousand_records(client: Any) -> None:
    from service.dataplane import EXPLAIN_MAX_RECORDS

    rows = columns_to_rows(applicant_columns(rows=EXPLAIN_MAX_RECORDS + 1, seed=29))
    for body in ({"instances": rows}, {"inputs": applicant_columns(EXPLAIN_MAX_RECORDS + 1, 29)}):
        response = post(client, "/v1/models/underwriting:explain", body)
        assert response.status_code == 400
        assert f"at most {EXPLAIN_MAX_RECORDS} per request" in response.get_json()["error"]


@pytest.fixture
def casework(app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets the share of straight-through decisions audited (the setting's draw, seeded)."""
    from service.app import DATAPLANE_KEY
    from service.decisions.case_book import CaseBook
    from service.decisions.cases import Casework

    dataplane = app.extensions[DATAPLANE_KEY]

    def audited(share: float) -> Any:
        monkeypatch.setattr(dataplane, "casework", Casework(share, np.random.default_rng(7)))
        return CaseBook(dataplane.recorder)

    return audited


def test_a_referral_opens_a_case_holding_the_applicant_and_the_model_s_outputs(
    client: Any, casework: Any
) -> None:
    recorder = casework(0.0)
    above_limit = EXAMPLE | {"requested_coverage": 2_500_000}
    response = post(client, PREDICT, {"instances": [EXAMPLE, above_limit]}, request_id="cases-1")
    plain, referred = response.get_json()["predictions"]
    assert referred["decision"]["outcome"] == "refer"
    records = client.get("/v1/decisions/cases-1").get_json()["decisions"]
    # No audit is drawn: the plain applicant has a case only if referred (a later policy may).
    has_case = recorder.case(records[0]["sequence"]) is not None
    assert has_case == (plain["decision"]["outcome"] == "refer")
    case = recorder.case(records[1]["sequence"])
    assert (case["kind"], case["state"], case["request_id"], case["index"]) == (
        "referral",
        "open",
        "cases-1",
        1,
    )
    assert case["applicant"] == above_limit  # the validated record, as sent
    assert case["record"]["decision"] == referred["decision"]
    assert case["outputs"]["max_coverage"] == pytest.approx(referred["max_coverage"])
    assert case["outputs"]["probabilities"] == pytest.approx(
        list(referred["probabilities"].values())
    )


def test_a_declared_share_of_straight_through_decisions_opens_audit_cases(
    client: Any, casework: Any
) -> None:
    from service.observability.exposition import exposition

    def opened(kind: str) -> float:
        line = f'underwriting_cases_opened_total{{kind="{kind}"}}'
        found = [row for row in exposition().decode().splitlines() if row.startswith(line)]
        return float(found[0].split()[-1])

    before = opened("audit"), opened("referral")
    recorder = casework(1.0)
    rows = columns_to_rows(applicant_columns(rows=40, seed=3))
    response = post(client, PREDICT, {"instances": rows}, request_id="audits-1")
    outcomes = [p["decision"]["outcome"] for p in response.get_json()["predictions"]]
    records = client.get("/v1/decisions/audits-1").get_json()["decisions"]
    kinds = [recorder.case(r["sequence"])["kind"] for r in records]
    assert kinds == ["referral" if o == "refer" else "audit" for o in outcomes]
    assert "audit" in kinds
    after = opened("audit"), opened("referral")
    assert after[0] - before[0] == kinds.count("audit")
    assert after[1] - before[1] == kinds.count("referral")
    recorder = casework(0.0)
    post(client, PREDICT, {"instances": rows}, request_id="audits-2")
    records = client.get("/v1/decisions/audits-2").get_json()["decisions"]
    assert [recorder.case(r["sequence"]) is None for r in records] == [
        o != "refer" for o in outcomes
    ]
