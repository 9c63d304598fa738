"""The shadow challenger in one process: after the response, counted apart from the champion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from metrics_support import parse_exposition, total, wait_for
from service_support import (
    applicant_columns,
    columns_to_rows,
    free_port,
    make_repository,
    publish_version,
)

PREDICT = "/v1/models/underwriting:predict"


def shadowed_app(
    champion: Path, challenger: Path, sample: float = 1.0, reload_seconds: float = 3600.0
) -> Any:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    settings = Settings(
        models_dir=champion,
        reload_interval_seconds=reload_seconds,
        workers=1,
        shadow_models_dir=challenger,
        shadow_sample=sample,
    )
    app = create_app(settings)
    store = app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready()
    return app


def post(client: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    # The shadow runs when the response is closed: the test client closes it explicitly.
    with client.post(PREDICT, json={"instances": rows}) as response:
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
    return body


def scrape(client: Any) -> dict[Any, float]:
    return parse_exposition(client.get("/metrics").get_data(as_text=True))


@pytest.fixture(scope="module")
def challenger_dir(trained_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another model: the larger training run's, as a candidate version would be."""
    return make_repository(trained_models_dir, tmp_path_factory.mktemp("challenger"))


def test_the_challenger_is_compared_on_every_sampled_record(
    service_models_dir: Path, challenger_dir: Path
) -> None:
    app = shadowed_app(service_models_dir, challenger_dir)
    client = app.test_client()
    before = scrape(client)
    rows = columns_to_rows(applicant_columns(260, seed=61))
    answers = [post(client, rows[i : i + 20]) for i in range(0, 240, 20)]
    answers += [post(client, [row]) for row in rows[240:]]
    after = scrape(client)

    def added(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    outcomes = {
        o: added("underwriting_shadow_agreement_total", outcome=o)
        for o in ("agree", "challenger_stricter", "challenger_more_lenient")
    }
    assert sum(outcomes.values()) == 260 and outcomes["agree"] > 0, outcomes
    assert added("underwriting_shadow_duration_seconds_count") == 32  # one per request
    assert added("underwriting_shadow_failures_total") == 0
    # The champion's metrics count only what clients were answered with.
    assert added("underwriting_predictions_total", model="risk_class") == 260
    assert added("underwriting_decisions_total") == 260
    assert total(after, "underwriting_model_info", model="challenger:risk_class") == 1
    assert total(after, "underwriting_shadow_window_records", model="underwriting") == 260
    psi = {dict(k[1])["output"] for k in after if k[0] == "underwriting_shadow_output_psi"}
    assert psi == {
        "probabilities.standard",
        "probabilities.substandard",
        "probabilities.decline",
        "max_coverage",
    }
    # The answers are the champion's (its versions), whatever the challenger said.
    assert all(a["model_versions"]["risk_class"] == "1" for a in answers)


def test_a_challenger_that_cannot_score_changes_nothing_for_clients(
    service_models_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-challenger-yet"
    empty.mkdir()
    app = shadowed_app(service_models_dir, empty)
    client = app.test_client()
    before = scrape(client)
    rows = columns_to_rows(applicant_columns(5, seed=62))
    for row in rows:
        assert post(client, [row])["predictions"][0]["decision"]["outcome"]
    after = scrape(client)
    failures = total(after, "underwriting_shadow_failures_total")
    assert failures - total(before, "underwriting_shadow_failures_total") == 5
    assert total(after, "underwriting_shadow_agreement_total") == total(
        before, "underwriting_shadow_agreement_total"
    )


def test_a_new_challenger_version_starts_its_comparison_afresh(
    service_models_dir: Path, trained_models_dir: Path, tmp_path: Path
) -> None:
    challenger = make_repository(trained_models_dir, tmp_path / "challenger")
    app = shadowed_app(service_models_dir, challenger, reload_seconds=0.3)
    client = app.test_client()
    rows = columns_to_rows(applicant_columns(50, seed=63))
    post(client, rows[:40])
    assert total(scrape(client), "underwriting_shadow_window_records", model="underwriting") == 40
    for name in ("risk_class", "max_coverage"):
        publish_version(trained_models_dir / name / "1", challenger, name, 2)
    wait_for(
        lambda: (
            total(
                scrape(client),
                "underwriting_model_info",
                model="challenger:risk_class",
                version="2",
            )
            == 1
        ),
        60,
        "the challenger's version 2",
    )
    post(client, rows[40:])
    after = scrape(client)
    assert total(after, "underwriting_shadow_window_records", model="underwriting") == 10


def test_a_grpc_call_is_shadowed_once_it_has_ended(
    service_models_dir: Path, challenger_dir: Path
) -> None:
    import json

    import tritonclient.grpc as triton
    from grpc_support import triton_inputs
    from service_support import declared_features

    from service.app import DATAPLANE_KEY
    from service.grpc_api.server import serve_grpc
    from service.settings import Settings

    app = shadowed_app(service_models_dir, challenger_dir)
    client = app.test_client()
    # A gRPC server over the app's own dataplane (its REST routes' too), as in a worker.
    settings = Settings(host="127.0.0.1", grpc_port=free_port())
    served = serve_grpc(app.extensions[DATAPLANE_KEY], settings)
    try:
        before = scrape(client)
        columns = applicant_columns(15, seed=67)
        inputs = triton_inputs(columns, declared_features(service_models_dir))
        stock = triton.InferenceServerClient(f"127.0.0.1:{served.port}")
        result = stock.infer("underwriting", inputs)
        assert len([json.loads(v) for v in result.as_numpy("decision")]) == 15

        def shadowed() -> float | None:
            moved = total(scrape(client), "underwriting_shadow_agreement_total") - total(
                before, "underwriting_shadow_agreement_total"
            )
            return moved or None

        assert wait_for(shadowed, 10, "the challenger's comparison") == 15
        after = scrape(client)
        assert (
            total(after, "underwriting_shadow_duration_seconds_count")
            - total(before, "underwriting_shadow_duration_seconds_count")
            == 1
        )
    finally:
        served.stop(grace=None)
