"""Drive wrk with a POST body from a file and parse what it reports."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open("{body}", "rb")
wrk.body = file:read("*a")
file:close()
"""
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Result:
    """One wrk run: throughput, latency percentiles (seconds) and failures."""

    requests_per_second: float
    p50: float
    p99: float
    requests: int
    errors: int


def script_for(body: Path) -> Path:
    """Write the wrk Lua script that POSTs `body` as JSON; return its path."""
    script = body.with_suffix(".lua")
    script.write_text(LUA.format(body=body))
    return script


def run(url: str, script: Path, connections: int, seconds: int) -> Result:
    """Run wrk once against `url` and parse its summary."""
    threads = min(connections, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse(out)


def parse(out: str) -> Result:
    """Extract requests/s, p50, p99 and error counts from wrk's output."""
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", out))
    total = int(_search(r"(\d+) requests in", out))
    errors = int(_search(r"Non-2xx or 3xx responses: (\d+)", out, "0"))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Result(rps, _latency("50%", out), _latency("99%", out), total, errors)


def _latency(percentile: str, out: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if match is None:
        raise ValueError(f"no {percentile} latency in wrk output:\n{out}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _search(pattern: str, out: str, default: str | None = None) -> str:
    match = re.search(pattern, out)
    if match is None:
        if default is not None:
            return default
        raise ValueError(f"{pattern!r} not in wrk output:\n{out}")
    return match.group(1)
