"""bench.layers: each py-spy sample goes to the nearest layer of the service's own code."""

from __future__ import annotations

from bench.layers import layer_of, layer_shares

GUNICORN = "handle_request (gunicorn/workers/sync.py:180)"
FLASK = "full_dispatch_request (flask/app.py:904)"
WRAPPER = "__call__ (service/http/client_address.py:21)"
ROUTE = "predict_route (service/protocols/tf_serving.py:37)"
INFER = "infer (service/dataplane.py:149)"


def test_a_library_under_the_service_costs_the_layer_that_called_it() -> None:
    numpy_in_packing = [
        "_all (numpy/_core/_methods.py:70)",
        "pack (service/inference/packing.py:50)",
        INFER,
        ROUTE,
        FLASK,
        WRAPPER,
        GUNICORN,
    ]
    assert layer_of(numpy_in_packing) == "model"
    headers = ["set (werkzeug/datastructures/headers.py:388)", "_secure (service/http/x.py:1)"]
    assert layer_of([*headers, FLASK, WRAPPER, GUNICORN]) == "hooks"
    assert layer_of(["inc (prometheus_client/values.py:114)", INFER]) == "metrics"
    assert layer_of(["append (service/decisions/store.py:282)", INFER]) == "record"
    assert layer_of(["attribute (service/decisions/explaining.py:51)", INFER]) == "reasons"


def test_the_framework_that_runs_it_when_no_service_code_is_on_the_stack() -> None:
    # The WSGI wrapper only passes the request on: Flask's own dispatch stays Flask's.
    assert layer_of(["match (werkzeug/routing/map.py:492)", FLASK, WRAPPER, GUNICORN]) == "Flask"
    assert layer_of(["close_graceful (gunicorn/util.py:312)", GUNICORN]) == "gunicorn"
    assert layer_of(["_serve (grpc/_server.py:1314)", "run (threading.py:975)"]) == "grpc"
    assert layer_of(["<module> (somewhere.py:1)"]) == "other"


def test_shares_add_up_the_raw_counts_and_detail_splits_one_layer() -> None:
    raw = "\n".join(
        [
            f"{GUNICORN};{WRAPPER};{FLASK};{ROUTE};{INFER} 7",
            f"{GUNICORN};close_graceful (gunicorn/util.py:312) 3",
            f"{GUNICORN};write (gunicorn/util.py:348) 2",
        ]
    )
    assert layer_shares(raw) == {"dataplane": 7, "gunicorn": 5}
    detailed = layer_shares(raw, "gunicorn")
    assert detailed["dataplane"] == 7
    assert detailed["gunicorn: close_graceful (gunicorn/util.py:312)"] == 3
    assert detailed["gunicorn: write (gunicorn/util.py:348)"] == 2
