"""The composite `underwriting` (risk_class and max_coverage, deciding with the policy) answers
one way on every route: no versions of its own, errors that suggest only names a client can
address, and metadata naming what its policy reads besides the features (requested_coverage)."""

from __future__ import annotations

import re
from typing import Any

import pytest

COMPONENT_MODELS = ("risk_class", "max_coverage")
NAMES = ("underwriting", "risk_class", "max_coverage", "underwriting_policy", "nope")
# Every route that takes a model name: (method, path with {name} and, if versioned, {version}).
ROUTES = [
    (method, path.replace("{v}", version))
    for method, path in (
        ("GET", "/v1/models/{name}{v}"),
        ("GET", "/v1/models/{name}{v}/metadata"),
        ("GET", "/v1/models/{name}{v}/card"),
        ("POST", "/v1/models/{name}{v}:predict"),
        ("POST", "/v1/models/{name}{v}:explain"),
        ("GET", "/v2/models/{name}{v}"),
        ("GET", "/v2/models/{name}{v}/ready"),
        ("POST", "/v2/models/{name}{v}/infer"),
    )
    for version in ("", "/versions/{version}")
]
# A body no route accepts: a name that answers is then a 400, an unknown one a 404.
BODY: dict[str, Any] = {"instances": [{}]}


def ask(client: Any, method: str, path: str) -> Any:
    return client.open(path, method=method, json=BODY if method == "POST" else None)


def addressed(client: Any, path: str, name: str) -> str:
    """The route for `name`: at its serving version where the route takes one, as its status
    says; the composite, which has no version of its own (its status lists its components'),
    without one."""
    statuses = client.get(f"/v1/models/{name}").get_json()["model_version_status"]
    own = [s["version"] for s in statuses if s["state"] == "AVAILABLE" and "model" not in s]
    if not own:
        return path.replace("/versions/{version}", "").format(name=name)
    return path.format(name=name, version=own[0])


def suggested(body: dict[str, Any], asked: str) -> set[str]:
    """The names an error points the client to: in its details, or quoted in its message."""
    names: set[str] = set()
    for value in body["details"].values():
        values = value if isinstance(value, list) else [value]
        names |= {v for v in values if isinstance(v, str) and v in NAMES}
    names |= {n for n in re.findall(r"'([^']+)'", body["error"]) if n in NAMES}
    return names - {asked}


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_name_an_error_suggests_answers_on_the_same_route(
    client: Any, method: str, path: str
) -> None:
    """Whatever name (and version) a client tries, a 404 names only what answers instead: the
    same route with a suggested name is never a 404."""
    tried = 0
    for name in NAMES:
        for version in (1, 3):
            response = ask(client, method, path.format(name=name, version=version))
            if response.status_code != 404:
                continue
            for suggestion in suggested(response.get_json(), name):
                answer = ask(client, method, addressed(client, path, suggestion))
                assert answer.status_code != 404, (path, name, suggestion, answer.get_json())
                tried += 1
    assert tried > 0  # the route's errors do suggest names


VERSIONED = [(method, path) for method, path in ROUTES if "{version}" in path]


@pytest.mark.parametrize("method, path", VERSIONED, ids=[f"{m} {p}" for m, p in VERSIONED])
def test_the_composite_has_no_versions_on_any_route(client: Any, method: str, path: str) -> None:
    """Not version 1 (which its components happen to have) nor any other: one 404, naming the
    models to pin instead; without a version every route answers it."""
    for version in (1, 3):
        response = ask(client, method, path.format(name="underwriting", version=version))
        assert response.status_code == 404, response.get_data(as_text=True)
        body = response.get_json()
        assert "has no versions of its own" in body["error"]
        # Only what the route serves: the explain route names the model that explains.
        pinnable = ["risk_class"] if ":explain" in path else list(COMPONENT_MODELS)
        assert body["details"] == {"model": "underwriting", "models": pinnable}
    unversioned = path.replace("/versions/{version}", "").format(name="underwriting")
    assert ask(client, method, unversioned).status_code != 404


def test_the_composite_status_lists_its_components_the_policy_included(client: Any) -> None:
    statuses = client.get("/v1/models/underwriting").get_json()["model_version_status"]
    assert [s["model"] for s in statuses] == ["risk_class", "max_coverage", "underwriting_policy"]
    assert client.get("/v1/models/underwriting_policy").status_code == 200  # its own status


def test_the_composite_metadata_names_requested_coverage(client: Any) -> None:
    """TF Serving's metadata and V2's both say a record may carry requested_coverage, and that
    it is optional; the composite's versions are those its predictions name."""
    metadata = client.get("/v1/models/underwriting/metadata").get_json()["metadata"]
    (field,) = metadata["optional_fields"]
    assert field["name"] == "requested_coverage" and field["optional"] is True
    assert (field["type"], field["unit"], field["minimum"]) == ("number", "USD", 0.0)
    assert "requested_coverage" not in {f["name"] for f in metadata["features"]}
    assert metadata["versions"] == {
        "risk_class": "1",
        "max_coverage": "1",
        "underwriting_policy": "1",
    }
    v2 = client.get("/v2/models/underwriting").get_json()
    optional = [i for i in v2["inputs"] if i.get("parameters", {}).get("optional")]
    assert optional == [
        {
            "name": "requested_coverage",
            "datatype": "FP64",
            "shape": [-1],
            "parameters": {"optional": True},
        }
    ]
    assert v2["parameters"]["model_versions"] == metadata["versions"]
