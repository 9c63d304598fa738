"""Both runtimes under real gunicorn: LiteRT workers never load TensorFlow, and the runtimes agree.

The same records go through /v1 rows, /v1 columns and /v2 on a LiteRT service and on a
TensorFlow service over the same artifacts; every output must agree within the tolerance each
output declares (the tolerance publication checked the two export formats against).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from api_support import v2_request
from service_support import (
    applicant_columns,
    columns_to_rows,
    gunicorn_workers,
    make_repository,
    served,
)

RECORDS = 300


def loads_tensorflow(pid: int) -> bool:
    """Whether a process has TensorFlow's own libraries mapped (LiteRT ships its own)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "site-packages/tensorflow/" in maps


@pytest.fixture(scope="module")
def services(
    tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, int]]]:
    """A LiteRT and a TensorFlow service over the same repository: name -> (url, launcher pid)."""
    root = tmp_path_factory.mktemp("runtimes")
    models_dir = make_repository(tiny_models_dir, root / "models")
    with (
        served(models_dir, root / "litert.log", runtime="litert") as (litert_url, litert),
        served(models_dir, root / "tensorflow.log", runtime="tensorflow") as (tf_url, tf),
    ):
        yield {"litert": (litert_url, litert.pid), "tensorflow": (tf_url, tf.pid)}


def test_litert_workers_never_load_tensorflow(services: dict[str, tuple[str, int]]) -> None:
    for runtime, (url, launcher) in services.items():
        requests.post(f"{url}/v1/models/underwriting:predict", json={"instances": []}, timeout=10)
        workers = gunicorn_workers(launcher)
        assert len(workers) == 2
        assert [loads_tensorflow(pid) for pid in workers] == [runtime == "tensorflow"] * 2


def _scores(url: str, columns: dict[str, list[Any]]) -> dict[str, dict[str, np.ndarray]]:
    """The outputs of one service for the same records, by protocol."""
    rows = columns_to_rows(columns)
    by_rows = requests.post(
        f"{url}/v1/models/underwriting:predict", json={"instances": rows}, timeout=30
    ).json()["predictions"]
    by_columns = requests.post(
        f"{url}/v1/models/underwriting:predict", json={"inputs": columns}, timeout=30
    ).json()["outputs"]
    features = requests.get(f"{url}/v1/models/underwriting/metadata", timeout=10).json()
    body = v2_request(columns, features["metadata"]["features"])
    v2 = requests.post(f"{url}/v2/models/underwriting/infer", json=body, timeout=30).json()
    tensors = {t["name"]: np.asarray(t["data"]).reshape(t["shape"]) for t in v2["outputs"]}
    return {
        "v1 rows": {
            "probabilities": np.asarray([list(p["probabilities"].values()) for p in by_rows]),
            "risk_class": np.asarray([p["risk_class"] for p in by_rows]),
            "max_coverage": np.asarray([p["max_coverage"] for p in by_rows]),
        },
        "v1 columns": {name: np.asarray(values) for name, values in by_columns.items()},
        "v2": tensors,
    }


def test_both_runtimes_agree_on_every_protocol(services: dict[str, tuple[str, int]]) -> None:
    columns = applicant_columns(rows=RECORDS, seed=77)
    litert = _scores(services["litert"][0], columns)
    tensorflow = _scores(services["tensorflow"][0], columns)
    outputs = requests.get(
        f"{services['litert'][0]}/v1/models/underwriting/metadata", timeout=10
    ).json()["metadata"]["outputs"]
    declared = {o["name"]: o for o in outputs}
    for protocol, answers in litert.items():
        expected = tensorflow[protocol]
        for name, spec in declared.items():
            np.testing.assert_allclose(
                answers[name],
                expected[name],
                rtol=spec.get("relative_tolerance") or 0.0,
                atol=spec["tolerance"],
                err_msg=f"{protocol} {name}",
            )
        probabilities = expected["probabilities"]
        top_two = np.sort(probabilities, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > declared["probabilities"]["tolerance"]
        assert (answers["risk_class"][clear] == expected["risk_class"][clear]).all(), protocol
        assert clear.mean() > 0.95


def test_v2_metadata_names_the_runtime_that_runs_the_model(
    services: dict[str, tuple[str, int]],
) -> None:
    for runtime, platform in (("litert", "litert_tflite"), ("tensorflow", "tensorflow_savedmodel")):
        url = services[runtime][0]
        assert (
            requests.get(f"{url}/v2/models/risk_class", timeout=10).json()["platform"] == platform
        )
        assert requests.get(f"{url}/v2/models/underwriting", timeout=10).json()["platform"] == (
            "ensemble"
        )
