"""The OpenAPI document: valid, complete, derived from the declaration, and true of the service."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import API_KEY, AUTH, UNDERWRITER_AUTH, UNDERWRITER_KEY, app_over
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.core.parameters import ParameterLocation
from service_support import TEST_MAX_RECORDS, declared_features

from service.callers import key_id

EXAMPLES_PER_OPERATION = 200  # 31 operations, with and without keys: over 12,000 requests
OPERATIONS = [
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /docs",
    "GET /docs/{asset}",
    "POST /v1/models/{name}:predict",
    "POST /v1/models/{name}/versions/{version}:predict",
    "POST /v1/models/{name}:explain",
    "POST /v1/models/{name}/versions/{version}:explain",
    "GET /v1/decisions",
    "GET /v1/decisions/{request_id}",
    "GET /v1/cases",
    "GET /v1/cases/{case_id}",
    "POST /v1/cases/{case_id}/claim",
    "POST /v1/cases/{case_id}/release",
    "GET /v1/models/{name}",
    "GET /v1/models/{name}/versions/{version}",
    "GET /v1/models/{name}/metadata",
    "GET /v1/models/{name}/versions/{version}/metadata",
    "GET /v1/models/{name}/card",
    "GET /v1/models/{name}/versions/{version}/card",
    "GET /v2",
    "GET /v2/health/live",
    "GET /v2/health/ready",
    "GET /v2/models/{name}",
    "GET /v2/models/{name}/versions/{version}",
    "GET /v2/models/{name}/ready",
    "GET /v2/models/{name}/versions/{version}/ready",
    "POST /v2/models/{name}/infer",
    "POST /v2/models/{name}/versions/{version}/infer",
]
load_all_checks()
CHECKS = CHECK_REGISTRY.get_all()  # every check schemathesis has, conformance and security
# Without the check that demands a valid body be accepted: for a generated body as it came.
CHECKS_BUT_ACCEPTANCE = [c for c in CHECKS if c.__name__ != "positive_data_acceptance"]
# schemathesis runs with its own defaults (which statuses refuse data, which accept it): the
# document states what the service does in the terms a stock run checks.


@pytest.fixture(scope="module")
def document(app: Any) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


@pytest.fixture(scope="module")
def features(service_models_dir: Path) -> list[dict[str, Any]]:
    return declared_features(service_models_dir)


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")


def test_every_route_is_an_operation_with_a_success_response(
    app: Any, document: dict[str, Any]
) -> None:
    described = 0
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path][method.lower()]
            assert "200" in operation["responses"], (method, path)
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
            described += 1
    assert described == sum(len(ops) for ops in document["paths"].values()) >= 21


def test_request_schemas_come_from_the_declaration(
    document: dict[str, Any], features: list[dict[str, Any]]
) -> None:
    schemas = document["components"]["schemas"]
    record = schemas["Record"]
    # The features, then the optional request field a deciding model reads.
    assert list(record["properties"]) == [f["name"] for f in features] + ["requested_coverage"]
    assert sorted(record["required"]) == sorted(f["name"] for f in features)
    assert record["additionalProperties"] is False
    json_type = {"integer": "integer", "number": "number", "boolean": "boolean"}
    for f in features:
        described = record["properties"][f["name"]]
        assert described["type"] == json_type.get(f["type"], "string")
        assert described.get("enum") == f.get("categories")
        assert described.get("minimum") == f.get("minimum")
        assert described.get("maximum") == f.get("maximum")
        assert described.get("x-unit") == (f.get("unit") or None)
        column = schemas["Columns"]["properties"][f["name"]]
        limits = {"minItems": 1, "maxItems": TEST_MAX_RECORDS}  # more records: 400
        assert column == {"type": "array", "items": described} | limits
        tensor = schemas[f"V2Input_{f['name']}"]["properties"]
        assert tensor["name"]["enum"] == [f["name"]]
        assert tensor["data"] == {"type": "array", "items": described} | limits
    # What JSON Schema cannot say is said in words and flagged for generators.
    assert schemas["Columns"]["x-same-length"] is True
    assert "every array of the same length" in schemas["Columns"]["description"]
    request = schemas["InferenceRequest"]["properties"]
    assert request["inputs"]["x-one-tensor-per-input"] is True
    assert request["outputs"]["x-outputs-of-the-model"] is True
    outputs = schemas["RequestOutput"]["properties"]["name"]["enum"]
    assert {"probabilities", "risk_class", "max_coverage", "decision"} <= set(outputs)
    expected = {"integer": ["INT64"], "number": ["FP64", "FP32"], "category": ["BYTES"]}
    assert schemas["V2Input_age"]["properties"]["datatype"]["enum"] == expected["integer"]
    assert schemas["V2Input_height_cm"]["properties"]["datatype"]["enum"] == expected["number"]
    assert schemas["V2Input_sex"]["properties"]["datatype"]["enum"] == expected["category"]
    inputs = schemas["InferenceRequest"]["properties"]["inputs"]["items"]["oneOf"]
    assert len(inputs) == len(features) + 1
    # :explain takes fewer records than predict (each costs an attribution path).
    from service.dataplane import EXPLAIN_MAX_RECORDS

    bound = min(TEST_MAX_RECORDS, EXPLAIN_MAX_RECORDS)
    assert schemas["ExplainRowsRequest"]["properties"]["instances"]["maxItems"] == bound
    assert all(c["maxItems"] == bound for c in schemas["ExplainColumns"]["properties"].values())


def test_the_documented_examples_are_accepted(client: Any, document: dict[str, Any]) -> None:
    documented = {
        "/v1/models/{name}:predict": {"rows", "columns"},
        "/v2/models/{name}/infer": {"one applicant"},
    }
    for path, names in documented.items():
        media = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert set(media.get("examples", {})) == names, path  # none missing, none unchecked
        for example in media["examples"].values():
            url = path.replace("{name}", "underwriting")
            response = client.post(
                url, data=json.dumps(example["value"]), content_type="application/json"
            )
            assert response.status_code == 200, response.get_json()


def test_security_is_declared_when_keys_are_required(app: Any, document: dict[str, Any]) -> None:
    assert "securitySchemes" not in document.get("components", {})
    keyed = app_over(app, api_keys=API_KEY).test_client().get("/openapi.json").get_json()
    assert keyed["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer"}
    }
    infer = keyed["paths"]["/v2/models/{name}/infer"]["post"]
    assert infer["security"] == [{"bearerAuth": []}] and "401" in infer["responses"]
    assert "security" not in keyed["paths"]["/healthz"]["get"]


def test_without_models_the_document_is_503(tmp_path: Path) -> None:
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    empty = create_app(Settings(models_dir=tmp_path / "none", reload_interval_seconds=3600))
    assert empty.extensions[STORE_KEY].wait_scanned(30)
    response = empty.test_client().get("/openapi.json")
    assert response.status_code == 503
    assert set(response.get_json()) == {"error", "details"}


def test_docs_page_renders_the_document_with_local_assets(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "//" not in html.replace("<!DOCTYPE html>", "")  # no absolute URL: nothing from a CDN
    assert "<script>" not in html  # no inline script: the page's policy allows none
    for asset, mimetype, size in [
        ("swagger-ui-bundle.js", "text/javascript", 10_000),
        ("swagger-ui.css", "text/css", 10_000),
        ("swagger-init.js", "text/javascript", 20),
    ]:
        assert f'"docs/{asset}"' in html
        response = client.get(f"/docs/{asset}")
        assert (response.status_code, response.mimetype) == (200, mimetype)
        assert len(response.data) > size
    init = client.get("/docs/swagger-init.js").get_data(as_text=True)
    assert 'url: "openapi.json"' in init
    assert client.get("/docs/index.html").status_code == 404


def test_every_response_carries_the_security_headers_once(client: Any) -> None:
    from service.http.security_headers import API_POLICY, DOCS_POLICY, STATIC

    answers = {
        "/v1/models/underwriting": (200, API_POLICY, "no-store"),
        "/v1/models/nonexistent": (404, API_POLICY, "no-store"),
        "/docs": (200, DOCS_POLICY, "no-store"),
        "/docs/swagger-ui.css": (200, API_POLICY, "max-age=86400"),  # kept for a day, as set
    }
    for path, (status, policy, cache_control) in answers.items():
        response = client.get(path)
        assert response.status_code == status, path
        for name, value in [*STATIC.items(), ("Content-Security-Policy", policy)]:
            assert response.headers.getlist(name) == [value], (path, name)
        assert response.headers.getlist("Cache-Control") == [cache_control], path


@pytest.fixture(scope="module", params=["with API keys", "without API keys"])
def live_schema(app: Any, request: Any) -> tuple[Any, dict[str, str]]:
    """The live document of a service, loaded through WSGI, and the headers a client sends:
    the service requires API keys, or it is open."""
    if request.param == "with API keys":
        keyed = app_over(
            app,
            api_keys=f"{API_KEY},{UNDERWRITER_KEY}",
            api_key_roles=f"{key_id(UNDERWRITER_KEY)}=underwriter:openapi",
        )
        return schemathesis.openapi.from_wsgi("/openapi.json", keyed), AUTH
    return schemathesis.openapi.from_wsgi("/openapi.json", app_over(app)), {}


@pytest.fixture(scope="module")
def v2_models(app: Any) -> dict[str, dict[str, Any]]:
    """Each model's V2 metadata: the inputs and outputs a request to it may name."""
    client = app_over(app).test_client()
    names = ("risk_class", "max_coverage", "underwriting")
    return {name: client.get(f"/v2/models/{name}").get_json() for name in names}


@pytest.fixture(scope="module")
def example_tensors(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The documented V2 example's tensors, by name: a valid value of every input."""
    media = document["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]
    (example,) = media["application/json"]["examples"].values()
    return {tensor["name"]: tensor for tensor in example["value"]["inputs"]}


def obey_rules_stated_in_words(
    case: Any, v2_models: dict[str, dict[str, Any]], examples: dict[str, dict[str, Any]]
) -> None:
    """Make a generated valid body obey the rules the document states in words and flags with
    `x-` keywords (JSON Schema cannot express them): columns of one length (`x-same-length`),
    one tensor per input of the model of one shape (`x-one-tensor-per-input`; an input left out
    is taken from the documented example), outputs of that model, each once
    (`x-outputs-of-the-model`).
    The generated values stay. A listing's range goes forwards (`x-not-after-to`)."""
    query = case.query or {}
    if {"from", "to"} <= set(query) and _utc(query["from"]) > _utc(query["to"]):
        case.query = query | {"from": query["to"], "to": query["from"]}
    body = case.body
    if not isinstance(body, dict):
        return
    inputs = body.get("inputs")
    if isinstance(inputs, dict) and inputs:  # V1 columns
        size = min(len(values) for values in inputs.values())
        case.body = body | {"inputs": {name: values[:size] for name, values in inputs.items()}}
    model = v2_models.get(case.path_parameters.get("name", ""))
    if isinstance(inputs, list) and inputs and model is not None:  # V2 tensors
        wanted = {spec["name"] for spec in model["inputs"]}
        tensors = {t["name"]: t for t in reversed(inputs) if t["name"] in wanted}
        size = min(len(t["data"]) for t in tensors.values()) if tensors else 1
        for name in wanted - set(tensors):
            example = examples[name]
            tensors[name] = example | {"data": example["data"] * size}
        case.body = body | {
            "inputs": [t | {"shape": [size], "data": t["data"][:size]} for t in tensors.values()]
        }
        outputs = {spec["name"] for spec in model["outputs"]}
        named: dict[str, Any] = {}  # each of the model's outputs once, in the order first named
        for output in body.get("outputs") or []:
            if output["name"] in outputs:
                named.setdefault(output["name"], output)
        kept = list(named.values())
        if kept:
            case.body["outputs"] = kept
        else:
            case.body.pop("outputs", None)  # none of the model's: all of them


def keeps_its_key(case: Any) -> bool:
    """Whether a case is sent with the API key: not a negative case whose mutation is the key's
    absence (adding the key back would make it valid, and its acceptance a false finding)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return True
    header = meta.components.get(ParameterLocation.HEADER)
    missing = "authorization" not in {name.lower() for name in case.headers or {}}
    return not (header is not None and header.mode.is_negative and missing)


def _utc(text: str) -> datetime:
    """A generated RFC 3339 time as a moment (the service's own reading of it)."""
    from service.decisions.listing import moment

    return moment(text, "time")


def test_the_operation_list_below_is_the_documents(document: dict[str, Any]) -> None:
    documented = {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_as_documented(
    live_schema: tuple[Any, dict[str, str]],
    v2_models: dict[str, dict[str, Any]],
    example_tensors: dict[str, dict[str, Any]],
    label: str,
) -> None:
    """schemathesis with every check it has: generated valid and invalid requests (200 per
    operation, over 5,000 in all), the documented examples and the coverage phase's boundary
    cases; no 5xx, every response as documented, every valid request accepted, every invalid
    one refused."""
    schema, client_headers = live_schema
    cases = label.split(" ")[1].startswith("/v1/cases")
    headers = UNDERWRITER_AUTH if cases and client_headers else client_headers
    operation = schema.find_operation_by_label(label)
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    strategies += schema.get_strategies_from_examples(operation)
    statuses: Counter[int] = Counter()

    def send(case: Any) -> None:
        """A valid body twice: as generated (every check but acceptance: it may break a rule
        JSON Schema cannot state, and must then be refused in the envelope, never a 5xx), then
        made to obey those rules (every check). Anything else once, with every check."""
        if case.meta is not None and case.meta.generation.mode.is_positive:
            as_generated = case.call_and_validate(headers=headers, checks=CHECKS_BUT_ACCEPTANCE)
            statuses[as_generated.status_code] += 1
            obey_rules_stated_in_words(case, v2_models, example_tensors)
        sent = headers if keeps_its_key(case) else {}
        statuses[case.call_and_validate(headers=sent, checks=CHECKS).status_code] += 1

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        send(case)

    run()
    # The coverage phase: boundary and just-out-of-bounds values for every field, other methods.
    config = schema.config.generation
    for case in schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode), generation_config=config
    ):
        send(case)
    if label == "GET /v1/decisions/{request_id}":
        # Generated ids were never used: a recorded one is asked for explicitly.
        assert statuses[404] > 0, (label, statuses)
        recorded = recorded_request(schema, headers)
        case = operation.Case(path_parameters={"request_id": recorded})
        statuses[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1
    if cases and not client_headers:  # no keys: cases hold personal data, served to no one
        assert statuses[403] > 0 and statuses[200] == 0, (label, statuses)
        return
    if "{case_id}" in label:  # generated ids are of no case: an opened one is asked for
        opened = opened_case(schema, client_headers)
        if label.endswith("/release"):
            claim = schema.find_operation_by_label("POST /v1/cases/{case_id}/claim")
            claim.Case(path_parameters={"case_id": opened}).call(headers=headers)
        case = operation.Case(path_parameters={"case_id": opened})
        statuses[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1
    assert statuses[200] > 0, (label, statuses)
    print(f"\n{label}: {sum(statuses.values())} requests, {dict(sorted(statuses.items()))}")


def opened_case(live_schema: Any, headers: dict[str, str]) -> int:
    """Refer one applicant through the documented predict route (above the accelerated limit);
    return the id of the case it opened."""
    operation = live_schema.find_operation_by_label("POST /v1/models/{name}:predict")
    record = json.loads((Path(__file__).parents[2] / "examples" / "applicant.json").read_text())
    case = operation.Case(
        body={"instances": [record | {"requested_coverage": 2_500_000}]},
        path_parameters={"name": "underwriting"},
        headers={"Content-Type": "application/json"},
    )
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["decision"]["outcome"] == "refer"
    reading = live_schema.find_operation_by_label("GET /v1/decisions/{request_id}")
    request_id = response.json()["request_id"]
    recorded = reading.Case(path_parameters={"request_id": request_id}).call(headers=headers)
    return int(recorded.json()["decisions"][0]["sequence"])


def recorded_request(live_schema: Any, headers: dict[str, str]) -> str:
    """Decide one applicant through the documented predict route; return its request id."""
    request_id = "openapi-recorded-" + ("keyed" if headers else "open")
    path = "/v1/models/{name}:predict"
    operation = live_schema.find_operation_by_label(f"POST {path}")
    media = live_schema.raw_schema["paths"][path]["post"]["requestBody"]["content"]
    case = operation.Case(
        body=media["application/json"]["examples"]["rows"]["value"],
        path_parameters={"name": "underwriting"},
        headers={"X-Request-ID": request_id, "Content-Type": "application/json"},
    )
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert response.status_code == 200, response.text
    return request_id
