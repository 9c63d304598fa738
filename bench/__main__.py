"""`python -m bench`: the service against the framework floor, under identical gunicorn settings.

Each app (bench/floor_app.py, then the service) is started with the service's gunicorn config and
loaded with wrk over loopback: single-record requests at concurrency 1, 8 and 32, then batches of
1,000 and 10,000 records. Every point runs `--repeat` times; the medians are printed and saved.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import histogram, servers, wrk

ENDPOINT = "/v1/models/underwriting:predict"
ROUTE_TEMPLATE = "/v1/models/<model:name>:predict"
# (label, records per request, connections)
POINTS: tuple[tuple[str, int, int], ...] = (
    ("single c=1", 1, 1),
    ("single c=8", 1, 8),
    ("single c=32", 1, 32),
    ("batch 1,000 c=1", 1_000, 1),
    ("batch 10,000 c=1", 10_000, 1),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point (median kept)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    return parser.parse_args(argv)


def write_bodies(directory: Path) -> dict[int, Path]:
    """Write one request body per batch size, from realistic synthetic applicants."""
    from training.synthetic import generate  # the bench may use training; the service never

    sample = generate(max(size for _, size, _ in POINTS), seed=2024)
    columns = {name: values.tolist() for name, values in sample.features.items()}
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    bodies = {}
    for size in sorted({size for _, size, _ in POINTS}):
        path = directory / f"body-{size}.json"
        path.write_text(json.dumps({"instances": rows[:size]}))
        bodies[size] = path
    return bodies


def measure(server: servers.Server, bodies: dict[int, Path], args: argparse.Namespace) -> dict:
    """Run every point against one server; return medians per point and the worker RSS."""
    scripts = {size: wrk.script_for(body) for size, body in bodies.items()}
    url = server.url + ENDPOINT
    wrk.run(url, scripts[1], 8, 1)  # warm up: caches, lazily built paths
    points: dict[str, Any] = {}
    for label, size, connections in POINTS:
        before = (
            histogram.predict_buckets(server.url, ROUTE_TEMPLATE)
            if server.name == "service"
            else {}
        )
        runs = [wrk.run(url, scripts[size], connections, args.seconds) for _ in range(args.repeat)]
        points[label] = _median(runs) | {"records_per_second": 0.0, "records": size}
        points[label]["records_per_second"] = points[label]["requests_per_second"] * size
        if server.name == "service":
            after = histogram.predict_buckets(server.url, ROUTE_TEMPLATE)
            points[label]["prometheus_p99"] = histogram.quantile(0.99, before, after)
    return {
        "ready_seconds": server.ready_seconds,
        "worker_rss_mib": server.worker_memory_mib("Rss"),
        "worker_pss_mib": server.worker_memory_mib("Pss"),
        "points": points,
    }


def _median(runs: list[wrk.Result]) -> dict[str, Any]:
    fields = asdict(runs[0]).keys()
    median = {f: statistics.median(asdict(r)[f] for r in runs) for f in fields}
    median["errors"] = sum(r.errors for r in runs)
    return median


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def report(results: dict[str, dict]) -> str:
    """Format the comparison table and the targets."""
    floor, service = results["floor"], results["service"]
    lines = [
        f"{'point':18} {'floor req/s':>11} {'service req/s':>13} {'ratio':>6} "
        f"{'p50':>9} {'p99':>9} {'records/s':>11} {'errors':>6}"
    ]
    for label, _, _ in POINTS:
        f, s = floor["points"][label], service["points"][label]
        lines.append(
            f"{label:18} {f['requests_per_second']:11.0f} {s['requests_per_second']:13.1f} "
            f"{s['requests_per_second'] / f['requests_per_second']:6.2f} "
            f"{s['p50'] * 1e3:7.2f}ms {s['p99'] * 1e3:7.2f}ms "
            f"{s['records_per_second']:11.0f} {s['errors']:6d}"
        )
    lines.append(
        "p99 from the service's histogram (as Prometheus computes it; server time, so without "
        "the queueing wrk sees at c>1): "
        + ", ".join(
            f"{label} {service['points'][label]['prometheus_p99'] * 1e3:.2f}ms"
            for label, _, _ in POINTS
        )
    )
    rss = ", ".join(f"{r:.0f}" for r in service["worker_rss_mib"])
    pss = ", ".join(f"{r:.0f}" for r in service["worker_pss_mib"])
    floor_rss = ", ".join(f"{r:.0f}" for r in floor["worker_rss_mib"])
    lines += [
        f"start-up to ready: service {service['ready_seconds']:.2f} s, floor "
        f"{floor['ready_seconds']:.2f} s",
        f"worker RSS (MiB): service {rss} (PSS {pss}); floor {floor_rss}",
        "",
        *targets(results),
    ]
    return "\n".join(lines)


def targets(results: dict[str, dict]) -> list[str]:
    """Check the issue's targets against the medians."""
    s, f = results["service"], results["floor"]
    ratio = (
        s["points"]["single c=8"]["requests_per_second"]
        / f["points"]["single c=8"]["requests_per_second"]
    )
    checks = [
        ("single-record throughput at c=8 >= 0.45 x floor", ratio >= 0.45, f"{ratio:.2f} x"),
        ("p50 at c=1 <= 1 ms", s["points"]["single c=1"]["p50"] <= 1e-3,
         f"{s['points']['single c=1']['p50'] * 1e3:.2f} ms"),
        ("10,000-record request < 1 s (p99)", s["points"]["batch 10,000 c=1"]["p99"] < 1.0,
         f"{s['points']['batch 10,000 c=1']['p99'] * 1e3:.0f} ms"),
        ("start-up to ready < 10 s", s["ready_seconds"] < 10, f"{s['ready_seconds']:.2f} s"),
    ]  # fmt: skip
    return [f"{'met   ' if ok else 'MISSED'} {name}: {value}" for name, ok, value in checks]


def main(argv: list[str] | None = None) -> None:
    """Benchmark the floor and the service; print and save the medians."""
    args = parse_args(argv)
    if not (args.models_dir / "risk_class").is_dir():
        raise SystemExit(f"no models in {args.models_dir}: run `make models` first")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bodies = write_bodies(Path(tmp))
        for name in ("floor", "service"):
            log = args.out / f"{name}.log"
            server = servers.start(name, free_port(), args.workers, args.models_dir, log)
            try:
                results[name] = measure(server, bodies, args)
            finally:
                server.stop()
    text = report(results)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"bench-{stamp}.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
