"""Capture what every route and the batch scorer answer on a fixed set, and compare two captures.

A refactor that must not change behaviour is held to it: capture on the commit before, capture
on the commit after (over the same model repository), compare. Bodies are compared as JSON,
numbers within 1e-6 (relative or absolute), everything else exactly.

    python tests/support/behaviour_capture.py capture MODELS_DIR OUT.json
    python tests/support/behaviour_capture.py compare BEFORE.json AFTER.json
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from paths import REPO  # noqa: E402

TOLERANCE = 1e-6
# Parts of an answer that differ between any two runs: when, how long, where.
VOLATILE = {
    "decided_at",
    "hash",
    "previous_hash",
    "started_at",
    "finished_at",
    "timings",
    "command",
    "path",
}
APPLICANT = json.loads((REPO / "examples" / "applicant.json").read_text())
COLUMNS = json.loads((REPO / "examples" / "columns.json").read_text())
V2_REQUEST = json.loads((REPO / "examples" / "v2-request.json").read_text())


def _adverse() -> dict[str, Any]:
    return APPLICANT | {"age": 63, "tobacco_use": "current", "systolic_bp": 172, "hba1c": 8.4}


def _declined() -> dict[str, Any]:
    return APPLICANT | {"dui_count_5y": 3, "cardiac_history": "event_within_5y"}


def _requests() -> Iterator[tuple[str, str, str, Any]]:
    """(name, method, path, JSON body or None), each sent with its name as X-Request-ID."""
    v1 = "/v1/models/underwriting"
    yield "v1-row", "POST", f"{v1}:predict", {"instances": [APPLICANT]}
    yield "v1-adverse", "POST", f"{v1}:predict", {"instances": [_adverse()]}
    yield "v1-declined", "POST", f"{v1}:predict", {"instances": [_declined()]}
    requested = APPLICANT | {"requested_coverage": 5_000_000.0}
    yield "v1-requested", "POST", f"{v1}:predict", {"instances": [requested]}
    rows = [APPLICANT, _adverse(), _declined(), requested]
    yield "v1-rows", "POST", f"{v1}:predict", {"instances": rows}
    yield "v1-rows-no-explain", "POST", f"{v1}:predict", {"instances": rows, "explain": False}
    yield "v1-columns", "POST", f"{v1}:predict", COLUMNS
    yield "v1-version", "POST", f"{v1}/versions/1:predict", {"instances": [APPLICANT]}
    yield "v1-risk-class", "POST", "/v1/models/risk_class:predict", {"instances": rows}
    yield "v1-coverage", "POST", "/v1/models/max_coverage:predict", {"instances": rows}
    yield "v1-explain", "POST", "/v1/models/risk_class:explain", {"instances": rows[:2]}
    yield "v1-explain-composite", "POST", f"{v1}:explain", {"instances": rows[:2]}
    yield "v1-explain-none", "POST", "/v1/models/max_coverage:explain", {"instances": rows[:1]}
    bad = APPLICANT | {"age": 200, "sex": "unknown", "hba1c": "high"}
    yield "v1-invalid", "POST", f"{v1}:predict", {"instances": [bad, APPLICANT]}
    yield "v1-missing", "POST", f"{v1}:predict", {"instances": [{"age": 40}]}
    yield "v1-extra", "POST", f"{v1}:predict", {"instances": [APPLICANT | {"name": "x"}]}
    yield "v1-empty", "POST", f"{v1}:predict", {"instances": []}
    yield "v1-shape", "POST", f"{v1}:predict", {"instances": APPLICANT}
    yield "v1-both", "POST", f"{v1}:predict", {"instances": [APPLICANT], "inputs": COLUMNS}
    yield "v1-too-many", "POST", f"{v1}:predict", {"instances": [APPLICANT] * 101}
    yield "v1-unknown", "POST", "/v1/models/nope:predict", {"instances": [APPLICANT]}
    yield "v1-no-version", "POST", f"{v1}/versions/9:predict", {"instances": [APPLICANT]}
    yield "v1-policy", "POST", "/v1/models/underwriting_policy:predict", {"instances": []}
    for name in ("underwriting", "risk_class", "max_coverage"):
        yield f"status-{name}", "GET", f"/v1/models/{name}", None
        yield f"metadata-{name}", "GET", f"/v1/models/{name}/metadata", None
        yield f"card-{name}", "GET", f"/v1/models/{name}/card", None
        yield f"v2-model-{name}", "GET", f"/v2/models/{name}", None
        yield f"v2-ready-{name}", "GET", f"/v2/models/{name}/ready", None
    yield "status-unknown", "GET", "/v1/models/nope", None
    yield "decisions-v1-rows", "GET", "/v1/decisions/v1-rows", None
    yield "decisions-none", "GET", "/v1/decisions/never-sent", None
    yield "decisions-listed", "GET", "/v1/decisions?limit=3", None
    yield "decisions-listed-bad", "GET", "/v1/decisions?from=yesterday", None
    yield "v2-server", "GET", "/v2", None
    yield "v2-live", "GET", "/v2/health/live", None
    yield "v2-ready", "GET", "/v2/health/ready", None
    yield "v2-infer", "POST", "/v2/models/underwriting/infer", V2_REQUEST
    yield "v2-infer-risk", "POST", "/v2/models/risk_class/infer", V2_REQUEST
    broken = V2_REQUEST | {"inputs": V2_REQUEST["inputs"][1:]}
    yield "v2-infer-missing", "POST", "/v2/models/underwriting/infer", broken
    yield "healthz", "GET", "/healthz", None
    yield "readyz", "GET", "/readyz", None
    yield "openapi", "GET", "/openapi.json", None
    yield "route-unknown", "GET", "/v1/nothing", None
    yield "method-wrong", "GET", f"{v1}:predict", None


def capture_routes(models_dir: Path, work: Path) -> dict[str, Any]:
    """Every request's status and JSON body, from the app over `models_dir`."""
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    settings = Settings(
        models_dir=models_dir,
        max_records=100,
        reload_interval_seconds=3600.0,
        decisions_database=work / "decisions.sqlite3",
    )
    app = create_app(settings)
    store = app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready(), store.not_ready_reason("underwriting")
    client = app.test_client()
    answers = {}
    for name, method, path, body in _requests():
        response = client.open(path, method=method, json=body, headers={"X-Request-ID": name})
        answers[name] = {"status": response.status_code, "body": response.get_json()}
    return answers


def capture_book(models_dir: Path, work: Path) -> dict[str, Any]:
    """The batch scorer's scores, rejects and manifest on a fixed book with invalid rows."""
    from book_support import book_table, manifest, read_output, write_book

    book = write_book(book_table(400, seed=11), work / "book.parquet", row_group_size=150)
    output = work / "scored"
    command = [sys.executable, "-m", "scoring", str(book), str(output)]
    command += ["--models-dir", str(models_dir), "--no-progress", "--batch-rows", "128"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the batch scorer failed:\n{done.stderr}")
    return {
        "scores": read_output(output).to_pylist(),
        "rejects": read_output(output, "rejects").to_pylist(),
        "manifest": manifest(output),
    }


def differences(before: Any, after: Any, where: str = "") -> Iterator[str]:
    """Where two captures differ, beyond the tolerance and the volatile fields."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if key in VOLATILE:
                continue
            if key not in before or key not in after:
                yield f"{where}/{key}: only in {'after' if key in after else 'before'}"
            else:
                yield from differences(before[key], after[key], f"{where}/{key}")
    elif isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            yield f"{where}: {len(before)} items before, {len(after)} after"
        for i, (one, other) in enumerate(zip(before, after, strict=False)):
            yield from differences(one, other, f"{where}[{i}]")
    elif _numbers(before, after):
        if not math.isclose(before, after, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            yield f"{where}: {before!r} before, {after!r} after"
    elif before != after:
        yield f"{where}: {before!r} before, {after!r} after"


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    take = verbs.add_parser("capture")
    take.add_argument("models_dir", type=Path)
    take.add_argument("out", type=Path)
    check = verbs.add_parser("compare")
    check.add_argument("before", type=Path)
    check.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.verb == "capture":
        with tempfile.TemporaryDirectory() as work:
            captured = {
                "routes": capture_routes(args.models_dir.resolve(), Path(work)),
                "book": capture_book(args.models_dir.resolve(), Path(work)),
            }
        args.out.write_text(json.dumps(captured, indent=1, sort_keys=True, default=str))
        print(f"captured {len(captured['routes'])} answers and a book into {args.out}")
        return 0
    before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
    found = list(differences(before, after))
    for line in found:
        print(line)
    counts = f"{len(before['routes'])} answers, {len(before['book']['scores'])} scored rows"
    print(f"{len(found)} differences ({counts})")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
