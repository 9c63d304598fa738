"""`python -m bench.profile`: where a single-record request's CPU time goes, in process.

Builds the service over a model repository with multiprocess metrics (as under gunicorn), then
calls the WSGI app directly (no sockets) with one prebuilt request, many times: first timed
(CPU time per request, median of rounds), then under cProfile, printing the functions that take
the most time of their own. The request is the service's usual one: one applicant, row format.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATH = "/v1/models/underwriting:predict"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--runtime", choices=("litert", "tensorflow"), default="litert")
    parser.add_argument("--records", type=int, default=1, help="records per request")
    parser.add_argument(
        "--no-explain", action="store_true", help='bulk scoring: "explain": false, no reasons'
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--sort", default="tottime", help="pstats key: tottime, cumulative, ...")
    return parser.parse_args(argv)


def _body(records: int, explain: bool = True) -> bytes:
    from training.synthetic import generate  # the benchmark may use training; the service never

    columns = {name: values.tolist() for name, values in generate(records, 2024).features.items()}
    rows = [{name: values[i] for name, values in columns.items()} for i in range(records)]
    return json.dumps({"instances": rows} | ({} if explain else {"explain": False})).encode()


def _environ(body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": PATH,
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.errors": sys.stderr,
    }


def main(argv: list[str] | None = None) -> None:
    """Time and profile one kind of request against the in-process app."""
    args = parse_args(argv)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="profile-metrics-")
    from service.app import STORE_KEY, create_app
    from service.settings import Settings

    records = Path(tempfile.mkdtemp(prefix="profile-decisions-")) / "decisions.sqlite3"
    app = create_app(
        Settings(
            models_dir=args.models_dir,
            runtime=args.runtime,
            reload_interval_seconds=3600.0,
            log_level="warning",
            decisions_database=records,
        )
    )
    if not app.extensions[STORE_KEY].wait_scanned(120) or not app.extensions[STORE_KEY].ready():
        raise SystemExit(f"no models served from {args.models_dir}")
    body = _body(args.records, explain=not args.no_explain)
    sys.stdout = io.StringIO()  # the access log's lines; printed results go to stderr below

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return lambda data: None

    def call() -> None:
        environ = _environ(body) | {"wsgi.input": io.BytesIO(body)}
        b"".join(app(environ, start_response))

    for _ in range(200):
        call()  # warm up
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(args.requests):
            call()
        rounds.append((time.process_time() - start) / args.requests)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(
        f"{args.runtime}, {args.records} record(s) per request: "
        f"{statistics.median(rounds) * 1e6:.0f} us CPU per request (median of 5 rounds of "
        f"{args.requests})",
        file=sys.stderr,
    )
    print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    main()
