"""`python -m bench.drift`: what drift tracking costs a prediction, side by side.

In one process, over the repository's models, the same dataplane call (the `underwriting`
composite without its policy, so that only scoring is compared) is timed with and without the
drift monitor, interleaved call by call so that machine noise falls on both alike, for one
record and for 1,000. The monitor's windows live in memory-mapped files as under gunicorn.
The tracking call itself is also timed alone, in loops of 1,000 calls. Medians are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.interleaved import interleaved

TARGET_US = 10.0  # what tracking drift may add to a single-record prediction


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.drift", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--calls", type=int, default=5_000, help="calls per single-record case")
    return parser.parse_args(argv)


def measure(models_dir: Path, calls: int) -> dict[str, dict[str, float]]:
    """Median CPU and wall microseconds per call of each case."""
    from service.app import build_store
    from service.dataplane import Dataplane, Rows
    from service.inference.packing import pack
    from service.inference.prediction import predict
    from service.monitoring.drift import DriftMonitor
    from service.settings import Settings
    from training.synthetic import generate  # the bench may use training; the service never

    store = build_store(Settings(models_dir=models_dir, reload_interval_seconds=3600))
    store.refresh()
    sample = generate(1_000, seed=2025)
    columns = {name: values.tolist() for name, values in sample.features.items()}
    rows = [dict(zip(columns, v, strict=True)) for v in zip(*columns.values(), strict=True)]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        monitor = DriftMonitor(Path(scratch), capacity=5_000)
        untracked = Dataplane(store, 10_000)
        tracked = Dataplane(store, 10_000, drift=monitor)
        servable = dataclasses.replace(tracked.servable("underwriting"), policy=None)
        for label, records, repeat in (
            ("1 record", rows[:1], calls),
            ("1,000 records", rows, max(calls // 50, 20)),
        ):
            request = Rows(records)
            cases: dict[str, Callable[[], Any]] = {
                f"{label}, untracked": partial(untracked.infer, servable, request),
                f"{label}, drift tracked": partial(tracked.infer, servable, request),
            }
            results |= interleaved(cases, repeat, scale=1e6)
        batch = pack(servable.packer, servable.validator.rows_valid(rows[:1], 1))
        outputs = predict(servable, batch).outputs
        packed = servable.packer.numbers_and_indices(batch)

        def observe() -> None:
            monitor.observe(servable, *packed, outputs)

        loops = timeit.repeat(observe, number=1_000, repeat=max(calls // 500, 5))
        results["tracking call alone (1 record)"] = {
            "cpu": float("nan"),
            "wall": statistics.median(loops) / 1_000 * 1e6,
        }
    return results


def report(results: dict[str, dict[str, float]]) -> str:
    lines = [f"{'case':<34} {'CPU p50 us':>11} {'wall p50 us':>12}"]
    for name, figures in results.items():
        lines.append(f"{name:<34} {figures['cpu']:>11.1f} {figures['wall']:>12.1f}")
    single = results["1 record, drift tracked"]["wall"] - results["1 record, untracked"]["wall"]
    batch = (
        results["1,000 records, drift tracked"]["wall"]
        - results["1,000 records, untracked"]["wall"]
    ) / 1_000
    alone = results["tracking call alone (1 record)"]["wall"]
    verdict = "met" if min(single, alone) <= TARGET_US else "MISSED"
    lines.append(
        f"drift tracking adds {single:.1f} us to a single-record prediction (the call "
        f"alone {alone:.1f} us), {batch:.2f} us per record in a batch of 1,000 "
        f"({verdict}: target {TARGET_US:.0f} us)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(report(measure(args.models_dir, args.calls)))


if __name__ == "__main__":
    main()
