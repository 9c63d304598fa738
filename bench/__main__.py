"""`python -m bench`: the service's runtimes against the framework floor, side by side.

Each app (bench/floor_app.py, then the service with the LiteRT runtime, then with the TensorFlow
runtime) is started with the service's gunicorn config and loaded with wrk over loopback:
a single standard acceptance at concurrency 1, 8 and 32, a single adverse applicant (decided
with its reasons) at 1 and 8, then 1,000 and 10,000 applicants with and without reasons and
1,000 adverse ones with them. Every point runs `--repeat` times; the medians, the workers' CPU
time per request, memory and start-up time are printed and saved, with the targets and what a
decision adds to a single-record prediction.
Then the same points over gRPC (bench/grpc_load.py): the LiteRT service's workers, which serve
ModelInfer on their gRPC port, beside a bare grpcio floor run the same way, with each point's
CPU per request beside the REST route's for the same work.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import decisions, drift, grpc_load, histogram, servers, wrk

ENDPOINT = "/v1/models/underwriting:predict"
GRPC_LABELS = ("single c=1", "single c=8", "batch 1,000 c=1")
ROUTE_TEMPLATE = "/v1/models/<model:name>:predict"


@dataclass(frozen=True)
class Body:
    """What one point's requests carry: `records` synthetic applicants (a standard acceptance
    first, about a quarter adverse in all) or the adverse applicant of bench/decisions.py
    `records` times; `explain`: reasons' attributions for the adverse ones (bulk scoring
    sends `"explain": false`)."""

    records: int
    adverse: bool = False
    explain: bool = True


# (label, body, connections)
POINTS: tuple[tuple[str, Body, int], ...] = (
    ("single c=1", Body(1), 1),
    ("single c=8", Body(1), 8),
    ("single c=32", Body(1), 32),
    ("adverse c=1", Body(1, adverse=True), 1),
    ("adverse c=8", Body(1, adverse=True), 8),
    ("batch 1,000 c=1", Body(1_000, explain=False), 1),
    ("1,000 with reasons", Body(1_000), 1),
    ("1,000 adverse", Body(1_000, adverse=True), 1),
    ("batch 10,000 c=1", Body(10_000, explain=False), 1),
    ("10,000 with reasons", Body(10_000), 1),
)
GRPC_POINTS = tuple(point for point in POINTS if point[0] in GRPC_LABELS)
# A 10,000-record request with reasons takes seconds on TensorFlow: wrk counts only the
# requests that end within a run, so those runs are long enough for several.
LONG_SECONDS = 8
GRPC_THREADS = 2  # the service's default (SERVICE_GRPC_THREADS), the floor's too


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point (median kept)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--runtimes",
        nargs="+",
        choices=("litert", "tensorflow"),
        default=["litert", "tensorflow"],
        help="service runtimes to measure beside the floor",
    )
    return parser.parse_args(argv)


def applicants() -> dict[str, list[Any]]:
    """Realistic synthetic applicants, as many as the largest point sends."""
    from training.synthetic import generate  # the bench may use training; the service never

    sample = generate(max(body.records for _, body, _ in POINTS), seed=2024)
    return {name: values.tolist() for name, values in sample.features.items()}


def write_bodies(directory: Path) -> dict[Body, Path]:
    """Write one request body per point's body."""
    columns = applicants()
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    bodies = {}
    for body in dict.fromkeys(body for _, body, _ in POINTS):
        path = directory / f"body-{body.records}-{body.adverse:d}-{body.explain:d}.json"
        records = [decisions.ADVERSE] * body.records if body.adverse else rows[: body.records]
        bulk = {} if body.explain else {"explain": False}
        path.write_text(json.dumps({"instances": records} | bulk))
        bodies[body] = path
    return bodies


def measure(server: servers.Server, bodies: dict[Body, Path], args: argparse.Namespace) -> dict:
    """Run every point against one server; medians per point, CPU per request, worker memory."""
    scripts = {body: wrk.script_for(path) for body, path in bodies.items()}
    url = server.url + ENDPOINT
    wrk.run(url, scripts[Body(1)], 8, 1)  # warm up: caches, lazily built paths
    for script in scripts.values():
        wrk.run(url, script, 1, 1)  # each body's paths too (reasons, bulk records)
        _settled(server)
    points: dict[str, Any] = {}
    is_service = server.name != "floor"
    for label, body, connections in POINTS:
        before = histogram.predict_buckets(server.url, ROUTE_TEMPLATE) if is_service else {}
        cpu_before = server.worker_cpu_seconds()
        seconds = max(args.seconds, LONG_SECONDS if body.records >= 10_000 else 0)
        runs = [wrk.run(url, scripts[body], connections, seconds) for _ in range(args.repeat)]
        # A request still running when wrk stops is left to finish: its CPU is this point's,
        # and the service counts it (wrk does not), so the service's own count divides.
        cpu = _settled(server) - cpu_before
        answered = sum(r.requests for r in runs)
        size = body.records
        points[label] = _median(runs) | {"records": size}
        points[label]["records_per_second"] = points[label]["requests_per_second"] * size
        if is_service:
            after = histogram.predict_buckets(server.url, ROUTE_TEMPLATE)
            points[label]["prometheus_p99"] = histogram.quantile(0.99, before, after)
            answered = int(after[math.inf] - before.get(math.inf, 0.0))
        points[label]["cpu_ms_per_request"] = 1e3 * cpu / max(answered, 1)
    return {
        "ready_seconds": server.ready_seconds,
        "worker_rss_mib": server.worker_memory_mib("Rss"),
        "worker_pss_mib": server.worker_memory_mib("Pss"),
        "worker_peak_rss_mib": server.worker_peak_rss_mib(),
        "points": points,
    }


def _settled(server: servers.Server, timeout: float = 60.0) -> float:
    """The workers' CPU seconds once they stop using any (a request left running is done)."""
    deadline = time.monotonic() + timeout
    used = server.worker_cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = server.worker_cpu_seconds()
        if now - used < 0.01:
            return now
        used = now
    return used


def grpc_bodies(models_dir: Path, directory: Path) -> dict[Body, Path]:
    """One framed ModelInferRequest per gRPC point's body: the REST bodies' applicants."""
    metadata = json.loads(
        (sorted((models_dir / "risk_class").iterdir())[-1] / "metadata.json").read_text()
    )
    features = metadata["features"]
    columns = applicants()
    return {
        body: grpc_load.frame(
            grpc_load.request_bytes(
                {name: values[: body.records] for name, values in columns.items()},
                features,
                explain=body.explain,
            ),
            directory,
        )
        for body in dict.fromkeys(body for _, body, _ in GRPC_POINTS)
    }


def measure_grpc(
    address: str,
    cpu: Any,
    messages: dict[Body, Path],
    args: argparse.Namespace,
    failures: Any = lambda: 0.0,
) -> dict[str, Any]:
    """Every gRPC point against one server; medians and CPU per request (`cpu()`: its
    processes' CPU seconds so far; `failures()`: the calls it answered with an error status)."""
    grpc_load.run(address, messages[Body(1)], 8, 1)  # warm up
    points: dict[str, Any] = {}
    for label, body, connections in GRPC_POINTS:
        cpu_before, failed_before = cpu(), failures()
        runs = [
            grpc_load.run(address, messages[body], connections, args.seconds)
            for _ in range(args.repeat)
        ]
        used = cpu() - cpu_before
        size = body.records
        points[label] = _median(runs) | {"records": size}
        points[label]["errors"] += int(failures() - failed_before)
        points[label]["records_per_second"] = points[label]["requests_per_second"] * size
        points[label]["cpu_ms_per_request"] = 1e3 * used / max(sum(r.requests for r in runs), 1)
    return {"points": points}


def _median(runs: list[Any]) -> dict[str, Any]:
    fields = asdict(runs[0]).keys()
    median = {f: statistics.median(asdict(r)[f] for r in runs) for f in fields}
    median["errors"] = sum(r.errors for r in runs)
    return median


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def report(results: dict[str, dict]) -> str:
    """Format the side-by-side table, memory, start-up and the targets."""
    floor = results["floor"]
    services = [name for name in results if name != "floor"]
    lines = [
        f"{'point':18} {'server':10} {'req/s':>9} {'x floor':>7} {'p50':>9} {'p99':>9} "
        f"{'prom p99':>9} {'CPU/req':>9} {'records/s':>10} {'errors':>6}"
    ]
    for label, _, _ in POINTS:
        base = floor["points"][label]["requests_per_second"]
        for name in ("floor", *services):
            p = results[name]["points"][label]
            prom = f"{p['prometheus_p99'] * 1e3:7.2f}ms" if "prometheus_p99" in p else " " * 9
            lines.append(
                f"{label:18} {name:10} {p['requests_per_second']:9.1f} "
                f"{p['requests_per_second'] / base:7.2f} {p['p50'] * 1e3:7.2f}ms "
                f"{p['p99'] * 1e3:7.2f}ms {prom} {p['cpu_ms_per_request']:7.2f}ms "
                f"{p['records_per_second']:10.0f} {p['errors']:6d}"
            )
    lines.append("")
    for name in ("floor", *services):
        r = results[name]
        rss, pss, peak = (
            ", ".join(f"{v:.0f}" for v in r[key])
            for key in ("worker_rss_mib", "worker_pss_mib", "worker_peak_rss_mib")
        )
        lines.append(
            f"{name:10} start-up to ready {r['ready_seconds']:.2f} s; worker RSS {rss} "
            f"MiB (peak {peak}), PSS {pss} MiB"
        )
    return "\n".join([*lines, "", *targets(results)])


def grpc_report(results: dict[str, dict]) -> str:
    """The gRPC points beside the gRPC floor, CPU per request beside the REST route's."""
    lines = [
        f"{'point':18} {'server':12} {'req/s':>9} {'x floor':>7} {'p50':>9} {'p99':>9} "
        f"{'CPU/req':>9} {'REST CPU':>9} {'x REST':>7} {'errors':>6}"
    ]
    for label, _, _ in GRPC_POINTS:
        base = results["grpc floor"]["points"][label]["requests_per_second"]
        rest_cpu = results["litert"]["points"][label]["cpu_ms_per_request"]
        for name in ("grpc floor", "grpc litert"):
            p = results[name]["points"][label]
            lines.append(
                f"{label:18} {name:12} {p['requests_per_second']:9.1f} "
                f"{p['requests_per_second'] / base:7.2f} {p['p50'] * 1e3:7.2f}ms "
                f"{p['p99'] * 1e3:7.2f}ms {p['cpu_ms_per_request']:7.2f}ms "
                f"{rest_cpu:7.2f}ms {p['cpu_ms_per_request'] / rest_cpu:7.2f} {p['errors']:6d}"
            )
    service, floor = results["grpc litert"]["points"], results["grpc floor"]["points"]
    label = "single c=8"
    ratio = service[label]["requests_per_second"] / floor[label]["requests_per_second"]
    cpu = (
        service[label]["cpu_ms_per_request"]
        / results["litert"]["points"][label]["cpu_ms_per_request"]
    )
    checks = [
        (
            "gRPC single decided record at c=8 >= 0.60 x the gRPC floor",
            ratio >= 0.60,
            f"{ratio:.2f} x",
        ),
        ("its CPU per request <= 0.70 x REST's", cpu <= 0.70, f"{cpu:.2f} x"),
    ]
    lines.append("")
    lines += [f"{'met   ' if ok else 'MISSED'} {name}: {value}" for name, ok, value in checks]
    return "\n".join(lines)


def targets(results: dict[str, dict]) -> list[str]:
    """Check the LiteRT service against its targets, from the medians of this run: a decided,
    recorded request beside the floor, its worker CPU, bulk requests, memory and start-up."""
    if "litert" not in results:
        return []
    s, f = results["litert"]["points"], results["floor"]["points"]

    def ratio(label: str) -> float:
        return float(s[label]["requests_per_second"] / f[label]["requests_per_second"])

    def cpu(label: str) -> float:
        return float(s[label]["cpu_ms_per_request"])

    accepted, adverse = ratio("single c=8"), ratio("adverse c=8")
    p50 = s["single c=1"]["p50"]
    single_cpu = max(cpu("single c=8"), cpu("adverse c=8"))
    p50_10k = s["batch 10,000 c=1"]["p50"]
    rss = max(results["litert"]["worker_rss_mib"])
    ready = results["litert"]["ready_seconds"]
    checks = [
        ("standard acceptance at c=8 >= 0.60 x floor", accepted >= 0.60, f"{accepted:.2f} x"),
        ("adverse with reasons at c=8 >= 0.45 x floor", adverse >= 0.45, f"{adverse:.2f} x"),
        ("standard acceptance p50 at c=1 <= 0.6 ms", p50 <= 0.6e-3, f"{p50 * 1e3:.2f} ms"),
        (
            "worker CPU per single-record request <= 0.5 ms (here without the front)",
            single_cpu <= 0.5,
            f"{single_cpu:.2f} ms",
        ),
        (
            "1,000 mixed records <= 15 ms of worker CPU with reasons",
            cpu("1,000 with reasons") <= 15,
            f"{cpu('1,000 with reasons'):.1f} ms",
        ),
        (
            "1,000 mixed records <= 10 ms without reasons",
            cpu("batch 1,000 c=1") <= 10,
            f"{cpu('batch 1,000 c=1'):.1f} ms",
        ),
        (
            "1,000 adverse records <= 25 ms with reasons",
            cpu("1,000 adverse") <= 25,
            f"{cpu('1,000 adverse'):.1f} ms",
        ),
        (
            "10,000 records p50 <= 120 ms without reasons",
            p50_10k <= 0.120,
            f"{p50_10k * 1e3:.0f} ms",
        ),
        ("worker RSS <= 120 MiB", rss <= 120, f"{rss:.0f} MiB"),
        ("start-up to ready <= 2 s", ready <= 2, f"{ready:.2f} s"),
    ]
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
        messages = grpc_bodies(args.models_dir, Path(tmp))
        for name in ("floor", *args.runtimes):
            log = args.out / f"{name}.log"
            grpc_port = free_port() if name == "litert" else 0
            server = servers.start(name, free_port(), args.workers, args.models_dir, log, grpc_port)
            try:
                results[name] = measure(server, bodies, args)
                if grpc_port:
                    address = f"127.0.0.1:{grpc_port}"
                    grpc_load.wait_ready(address)
                    measured = measure_grpc(
                        address,
                        server.worker_cpu_seconds,
                        messages,
                        args,
                        partial(histogram.grpc_failures, server.url),
                    )
                    results["grpc litert"] = measured
            finally:
                server.stop()
        if "grpc litert" in results:
            floor = grpc_load.Floor(free_port(), args.workers, GRPC_THREADS)
            try:
                results["grpc floor"] = measure_grpc(
                    floor.address, floor.cpu_seconds, messages, args
                )
            finally:
                floor.stop()
    # What deciding adds to a prediction, in process (bench/decisions.py).
    results["decisions"] = decisions.measure(args.models_dir, calls=3_000)
    # What drift tracking adds to a prediction, in process (bench/drift.py).
    results["drift"] = drift.measure(args.models_dir, calls=5_000)
    rest = {k: v for k, v in results.items() if k not in ("decisions", "drift") and "grpc" not in k}
    text = report(rest)
    if "grpc litert" in results:
        text += "\n\ngRPC (ModelInfer, raw tensors; CPU per request beside REST's):\n"
        text += grpc_report(results)
    text += "\n\nDecisions, single record, in process:\n" + decisions.report(results["decisions"])
    text += "\n\nDrift tracking, in process:\n" + drift.report(results["drift"])
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"bench-{stamp}.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
