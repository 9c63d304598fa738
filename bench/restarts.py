"""`python -m bench.restarts`: /metrics after many worker restarts (size, scrape time, files).

Starts the service (two workers) over the repository's models, then SIGKILLs a worker
`--restarts` times, waiting each time for gunicorn's replacement and sending predictions (so
every worker leaves counters behind). Prints the exposition's size, the median of 20 scrape
times and the number of files in the metrics directory, before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APPLICANT = Path(__file__).parents[1] / "examples" / "applicant.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.restarts", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--restarts", type=int, default=100)
    parser.add_argument("--port", type=int, default=18090)
    return parser.parse_args(argv)


def workers(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def scrape_figures(base: str, metrics_dir: Path) -> tuple[int, float, int]:
    """Exposition size, median scrape milliseconds over 20, files in the metrics directory."""
    times, size = [], 0
    for _ in range(20):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
            size = len(response.read())
        times.append(time.perf_counter() - started)
    return size, statistics.median(times) * 1e3, len(list(metrics_dir.iterdir()))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    body = json.dumps({"instances": [json.loads(APPLICANT.read_text())]}).encode()
    with tempfile.TemporaryDirectory() as scratch:
        metrics_dir = Path(scratch) / "metrics"
        env = os.environ | {
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "SERVICE_PORT": str(args.port),
            "SERVICE_GRPC_PORT": "0",  # REST is what this measures
            "SERVICE_HOST": "127.0.0.1",
            "SERVICE_WORKERS": "2",
            "SERVICE_MODELS_DIR": str(args.models_dir.absolute()),
            "SERVICE_DECISIONS_DATABASE": str(Path(scratch) / "decisions.sqlite3"),
            # gunicorn alone: its master is then the process started here, its workers its
            # children (the front's launcher would have nginx and the master as children).
            "SERVICE_FRONT": "none",
        }
        quiet = subprocess.DEVNULL
        server = subprocess.Popen(
            [sys.executable, "-m", "service"], env=env, stdout=quiet, stderr=quiet
        )
        base = f"http://127.0.0.1:{args.port}"
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(f"{base}/v1/models/underwriting:predict", body, headers)

        def predict() -> None:
            for _ in range(300):
                try:
                    with urllib.request.urlopen(request, timeout=30):
                        return
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError("the service does not answer")

        try:
            predict()
            before = scrape_figures(base, metrics_dir)
            for _ in range(args.restarts):
                old = workers(server.pid)
                os.kill(old[0], signal.SIGKILL)
                while len(workers(server.pid)) < 2 or old[0] in workers(server.pid):
                    time.sleep(0.05)
                for _ in range(4):
                    predict()
            after = scrape_figures(base, metrics_dir)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    for label, (size, ms, files) in (("before", before), (f"after {args.restarts}", after)):
        print(
            f"{label:<10} /metrics {size / 1024:6.1f} KiB, scrape p50 {ms:5.1f} ms, "
            f"{files} files in the metrics directory"
        )


if __name__ == "__main__":
    main()
