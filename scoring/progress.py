"""A progress line on the terminal: rows done, of how many, and the rate (rows/s)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redrawn at most every `every` seconds on a terminal; silent when output is piped."""

    def __init__(
        self, total: int | None, enabled: bool, stream: TextIO = sys.stderr, every: float = 0.5
    ) -> None:
        self.total, self.stream, self.every = total, stream, every
        self.enabled = enabled and stream.isatty()
        self.start = time.perf_counter()
        self._drawn = 0.0

    def update(self, rows: int) -> None:
        now = time.perf_counter()
        if self.enabled and now - self._drawn >= self.every:
            self._drawn = now
            self.stream.write("\r" + self.line(rows, now - self.start))
            self.stream.flush()

    def line(self, rows: int, elapsed: float) -> str:
        rate = rows / elapsed if elapsed > 0 else 0.0
        if self.total:
            share = min(rows / self.total, 1.0)
            bar = "#" * int(share * 30)
            return f"[{bar:<30}] {rows:,}/{self.total:,} rows  {rate:,.0f} rows/s"
        return f"{rows:,} rows  {rate:,.0f} rows/s"

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
