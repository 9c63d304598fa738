"""`python -m bench.decisions`: what a decision adds to a single-record prediction, side by side.

In one process, over the repository's models and policy, the same dataplane call is timed four
ways, interleaved call by call so that machine noise falls on all alike: the prediction alone
(the composite without its policy), a standard acceptance (the policy; no reasons needed), an
adverse decision with its reasons (the explain model), each of the last two with the decision
recorded in SQLite. Medians of each call's CPU time and wall time are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.interleaved import interleaved

HEALTHY = json.loads((Path(__file__).parents[1] / "examples" / "applicant.json").read_text())
ADVERSE = HEALTHY | {
    "tobacco_use": "current",
    "systolic_bp": 172,
    "diastolic_bp": 104,
    "hba1c": 8.4,
    "diabetes": "type_2",
    "bp_treatment": True,
}
TARGET_MS = 0.5  # what a decision with reasons may add to a prediction, p50


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.decisions", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--calls", type=int, default=3_000, help="calls per case")
    return parser.parse_args(argv)


def measure(models_dir: Path, calls: int) -> dict[str, dict[str, float]]:
    """Median CPU and wall milliseconds per call of each case."""
    from service.app import build_store
    from service.dataplane import Dataplane, Rows
    from service.decisions.store import SQLiteStore
    from service.settings import Settings

    store = build_store(Settings(models_dir=models_dir, reload_interval_seconds=3600))
    store.refresh()
    with tempfile.TemporaryDirectory() as scratch:
        recorder = SQLiteStore(Path(scratch) / "bench.sqlite3", retention_days=3650)
        unrecorded = Dataplane(store, 10_000)
        recorded = Dataplane(store, 10_000, recorder=recorder)
        servable = recorded.servable("underwriting")
        plain = dataclasses.replace(servable, policy=None)
        decided = recorded.infer(servable, Rows([ADVERSE])).decisions
        assert decided is not None and decided[0]["reasons"], "the adverse case gives reasons"
        cases: dict[str, Callable[[], Any]] = {
            "prediction only": lambda: unrecorded.infer(plain, Rows([HEALTHY])),
            "standard acceptance": lambda: unrecorded.infer(servable, Rows([HEALTHY])),
            "standard acceptance, recorded": lambda: recorded.infer(servable, Rows([HEALTHY])),
            "adverse with reasons": lambda: unrecorded.infer(servable, Rows([ADVERSE])),
            "adverse with reasons, recorded": lambda: recorded.infer(servable, Rows([ADVERSE])),
        }
        timed = interleaved(cases, calls, scale=1e3)
        recorder.close()
    return {name: {"cpu_ms": f["cpu"], "wall_ms": f["wall"]} for name, f in timed.items()}


def report(results: dict[str, dict[str, float]]) -> str:
    base = results["prediction only"]
    lines = [f"{'case':<32} {'CPU p50 ms':>11} {'wall p50 ms':>12} {'adds (wall)':>12}"]
    for name, figures in results.items():
        added = figures["wall_ms"] - base["wall_ms"]
        lines.append(
            f"{name:<32} {figures['cpu_ms']:>11.3f} {figures['wall_ms']:>12.3f} {added:>+12.3f}"
        )
    worst = results["adverse with reasons, recorded"]["wall_ms"] - base["wall_ms"]
    verdict = "met" if worst <= TARGET_MS else "MISSED"
    lines.append(
        f"decision with reasons, recorded, adds {worst:.3f} ms p50 ({verdict}: target "
        f"{TARGET_MS} ms)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(report(measure(args.models_dir, args.calls)))


if __name__ == "__main__":
    main()
