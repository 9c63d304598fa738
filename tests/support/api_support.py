"""Helpers for the API tests: an app requiring API keys over the session's loaded models."""

from __future__ import annotations

from typing import Any

from service_support import TEST_MAX_BODY_BYTES, TEST_MAX_RECORDS

API_KEY = "k-2f9c1d7e0b4a"  # a test key; real keys come from SERVICE_API_KEYS(_FILE)
OTHER_KEY = "k-second-8e31"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
UNDERWRITER_KEY = "k-underwriter-5a71"  # given the underwriter role where a test needs one
UNDERWRITER_AUTH = {"Authorization": f"Bearer {UNDERWRITER_KEY}"}


def app_over(app: Any, **settings: Any) -> Any:
    """Return a new app sharing `app`'s loaded model store, with the test limits and `settings`."""
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    store = app.extensions[STORE_KEY]
    limits = {"max_records": TEST_MAX_RECORDS, "max_body_bytes": TEST_MAX_BODY_BYTES}
    return create_app(Settings(models_dir=store.models_dir, **(limits | settings)), store=store)


def v2_request(columns: dict[str, list[Any]], features: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a V2 inference request with one input per declared feature column."""
    datatypes = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "category": "BYTES"}
    inputs = [
        {
            "name": f["name"],
            "datatype": datatypes[f["type"]],
            "shape": [len(columns[f["name"]])],
            "data": columns[f["name"]],
        }
        for f in features
    ]
    return {"inputs": inputs}
