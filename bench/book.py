"""`python -m bench.book`: score a generated book of 100,000 and 1,000,000 applicants.

Each run is the real command (`python -m scoring`, Parquet in, Parquet out) in a fresh process:
the local engine `--repeat` times per size (medians kept), with and without the model's
attributions (--no-explain); then Spark local[2] on 1,000,000 rows, beside a Spark pass that
reads, hands every Arrow batch to Python and back unchanged, and writes (the engine's own cost,
without scoring). Peak memory is the process tree's highest resident size, sampled. Beside them:
the service answering 10,000-record requests in process (the same models, over its WSGI app).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = (100_000, 1_000_000)
ROW_GROUP = 100_000  # rows per Parquet row group in the generated books


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.book", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--repeat", type=int, default=3, help="local runs per point (median)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--no-spark", dest="spark", action="store_false")
    return parser.parse_args(argv)


def write_book(rows: int, path: Path) -> Path:
    """Generated applicants (the synthetic generator) with an applicant_id, as one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from training.synthetic import generate  # the bench may use training; the scorer never

    features = generate(rows, seed=2026).features
    columns = {"applicant_id": pa.array([f"A{i:08d}" for i in range(rows)])}
    columns |= {name: pa.array(values) for name, values in features.items()}
    pq.write_table(pa.table(columns), path, row_group_size=ROW_GROUP)
    return path


def tree_rss_kib(pid: int) -> int:
    """Resident size of a process and all its descendants (JVM and Python workers included)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (OSError, StopIteration):
            continue
    return total


def run(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one command; its wall time, CPU time (its whole tree) and peak tree memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss_kib(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err.decode()[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_mib": peak[0] / 1024,
        "stdout": out.decode(),
    }


def score(book: Path, output: Path, models: Path, *extra: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "scoring",
        str(book),
        str(output),
        "--models-dir",
        str(models),
        "--overwrite",
        "--no-progress",
        *extra,
    ]
    measured = run(command, {"PYSPARK_SUBMIT_ARGS": "--master local[2] pyspark-shell"})
    manifest = json.loads((output / "_manifest.json").read_text())
    rows = manifest["counts"]["input"]
    measured.pop("stdout")
    return measured | {
        "rows": rows,
        "rows_per_second": rows / measured["wall_seconds"],
        "timings": manifest["timings"],
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_seconds", "cpu_seconds", "peak_mib", "rows_per_second")
    return {key: statistics.median(r[key] for r in runs) for key in keys} | {
        "rows": runs[0]["rows"],
        "runs": len(runs),
        "timings": runs[0]["timings"],
    }


IDENTITY = """
import sys, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("identity").getOrCreate()
start = time.perf_counter()
frame = spark.read.parquet(sys.argv[1])
frame.mapInArrow(lambda batches: batches, frame.schema).write.mode("overwrite").parquet(sys.argv[2])
print(time.perf_counter() - start)
"""


def spark_identity(book: Path, output: Path) -> dict[str, Any]:
    """Spark's own cost: read, every batch to Python and back unchanged, write (no scoring)."""
    measured = run(
        [sys.executable, "-c", IDENTITY, str(book), str(output)],
        {
            "PYSPARK_SUBMIT_ARGS": "--master local[2] pyspark-shell",
            "PYSPARK_PYTHON": sys.executable,
        },
    )
    return {
        "wall_seconds": measured["wall_seconds"],
        "peak_mib": measured["peak_mib"],
        "pass_seconds": float(measured["stdout"].strip().splitlines()[-1]),
    }


def service_rate(models: Path, rows: int = 10_000, requests: int = 5) -> dict[str, Any]:
    """The service's WSGI app answering 10,000-record requests in this process (bulk: no
    attributions, as a batch caller sends them), rows per second of the median request."""
    from service.app import STORE_KEY, create_app
    from service.settings import Settings
    from training.synthetic import generate

    app = create_app(
        Settings(
            models_dir=models,
            max_records=rows,
            max_body_bytes=64 << 20,
            reload_interval_seconds=3600.0,
            log_level="warning",
        )
    )
    store = app.extensions[STORE_KEY]
    assert store.wait_scanned(120) and store.ready()
    columns = {k: v.tolist() for k, v in generate(rows, seed=2026).features.items()}
    records = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    client = app.test_client()
    timings = []
    for explain in (False, True):
        body = json.dumps({"instances": records, "explain": explain})
        seconds = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.post(
                "/v1/models/underwriting:predict", data=body, content_type="application/json"
            )
            seconds.append(time.perf_counter() - start)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
        timings.append(rows / statistics.median(seconds))
    return {
        "records_per_request": rows,
        "rows_per_second_no_explain": timings[0],
        "rows_per_second_explain": timings[1],
    }


def report(results: dict[str, Any]) -> str:
    lines = ["Batch scoring (python -m scoring, Parquet in and out, LiteRT, 2 cores)", ""]
    lines.append(f"{'run':<38}{'rows':>10}{'wall s':>9}{'rows/s':>10}{'CPU s':>8}{'peak MiB':>10}")
    for label, r in results["runs"].items():
        # Spark's JVM is not a child we reap: its CPU time is not in our rusage.
        cpu = "-" if "spark" in label else f"{r['cpu_seconds']:.1f}"
        lines.append(
            f"{label:<38}{r['rows']:>10,}{r['wall_seconds']:>9.1f}"
            f"{r['rows_per_second']:>10,.0f}{cpu:>8}{r['peak_mib']:>10.0f}"
        )
    flat = results.get("memory_ratio_1m_to_100k")
    if flat:
        lines.append(f"\nlocal peak memory, 1M rows / 100k rows: {flat:.2f} (target <= 1.20)")
    if "spark_identity" in results:
        identity = results["spark_identity"]
        passed, whole = identity["pass_seconds"], identity["wall_seconds"]
        lines.append(
            "Spark local[2] identity pass (read, to Python and back, write; no scoring): "
            f"{passed:.1f} s of a {whole:.1f} s run"
        )
    for label, r in results["runs"].items():
        if "spark" in label:
            lines.append(f"{label} timings: {r['timings']}")
    service = results["service"]
    lines.append(
        f"\nService, 10,000-record requests in process: "
        f"{service['rows_per_second_no_explain']:,.0f} rows/s without attributions, "
        f"{service['rows_per_second_explain']:,.0f} with"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    models = args.models_dir.resolve()
    results: dict[str, Any] = {"runs": {}}
    with tempfile.TemporaryDirectory(prefix="bench-book-") as scratch:
        root = Path(scratch)
        books = {size: write_book(size, root / f"book-{size}.parquet") for size in SIZES}
        for size, book in books.items():
            for explain in (False, True):
                label = f"local {size:,}" + ("" if explain else " --no-explain")
                repeat = args.repeat if not explain else 1
                extra: tuple[str, ...] = () if explain else ("--no-explain",)
                runs = [score(book, root / "out", models, *extra) for _ in range(repeat)]
                results["runs"][label] = median_of(runs)
                print(label, f"{results['runs'][label]['rows_per_second']:,.0f} rows/s", flush=True)
        small = results["runs"]["local 100,000 --no-explain"]["peak_mib"]
        large = results["runs"]["local 1,000,000 --no-explain"]["peak_mib"]
        results["memory_ratio_1m_to_100k"] = large / small
        if args.spark:
            big = books[SIZES[-1]]
            for explain in (False, True):
                label = "spark local[2] 1,000,000" + ("" if explain else " --no-explain")
                extra = ("--engine", "spark") + (() if explain else ("--no-explain",))
                results["runs"][label] = median_of([score(big, root / "out", models, *extra)])
                print(label, f"{results['runs'][label]['rows_per_second']:,.0f} rows/s", flush=True)
            results["spark_identity"] = spark_identity(big, root / "identity")
    results["service"] = service_rate(models)
    text = report(results)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"book-{stamp}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"book-{stamp}.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
