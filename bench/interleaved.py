"""Time several in-process calls interleaved call by call, so machine noise falls on all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def interleaved(
    cases: dict[str, Callable[[], Any]], calls: int, scale: float
) -> dict[str, dict[str, float]]:
    """Median CPU and wall time per call of each case, in seconds times `scale` (1e3: ms)."""
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    wall: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(calls):
        for name, call in cases.items():
            started_cpu, started = time.process_time_ns(), time.perf_counter_ns()
            call()
            wall[name].append((time.perf_counter_ns() - started) * 1e-9 * scale)
            cpu[name].append((time.process_time_ns() - started_cpu) * 1e-9 * scale)
    return {
        name: {"cpu": statistics.median(cpu[name]), "wall": statistics.median(wall[name])}
        for name in cases
    }
