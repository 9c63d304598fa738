"""`python -m bench.layers`: where a decided, recorded request's CPU goes, layer by layer, under
what `make run` starts (nginx, gunicorn's workers, their gRPC servers).

For each case (a standard acceptance; an adverse decision with its reasons) and each wire (REST
through the front with wrk; gRPC ModelInfer with h2load), it loads the service at concurrency 8
for `--seconds` while py-spy samples every worker (`--rate` a second, idle threads left out),
reads every process's CPU time from /proc, and splits the workers' CPU per request by the share
of samples each layer holds. A sample belongs to the nearest frame of the service's own code
(what a library does for it is its cost: numpy under the model, werkzeug's headers under a
hook), else to the framework running it (Flask, gunicorn, grpc).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import grpc_load, wrk
from bench.decisions import ADVERSE, HEALTHY
from bench.servers import cpu_seconds

PREDICT = "/v1/models/underwriting:predict"
CASES = {"standard acceptance": HEALTHY, "adverse with reasons": ADVERSE}
# The service's own modules, nearest first wins; (path fragment, function fragment, layer).
OWN: tuple[tuple[str, str, str], ...] = (
    ("service/grpc_api/oip.py", "_infer_response", "encoding"),
    ("service/grpc_api/tf_serving.py", "_predict_response", "encoding"),
    ("service/grpc_api/calls.py", "", "hooks"),
    ("service/grpc_api/", "", "validation"),  # reading tensors into columns
    ("service/decisions/explaining.py", "", "reasons"),
    ("policy/reasons.py", "", "reasons"),
    ("contract/explanations.py", "", "reasons"),
    ("service/decisions/store", "", "record"),
    ("service/decisions/", "", "decision"),
    ("policy/", "", "decision"),
    ("service/assessing.py", "", "decision"),
    ("service/inference/", "", "model"),
    ("contract/packing.py", "", "model"),
    ("service/monitoring/drift.py", "", "drift"),
    ("service/monitoring/", "", "shadow"),
    ("service/validation/", "", "validation"),
    ("service/protocols/v2_inputs.py", "", "validation"),
    ("service/protocols/tf_serving_envelope.py", "", "validation"),
    ("service/http/request_body.py", "", "validation"),
    ("service/protocols/v2_outputs.py", "", "encoding"),
    ("service/http/json_io.py", "", "encoding"),
    ("service/protocols/", "", "route"),
    ("service/observability/access_log.py", "", "access log"),
    ("service/observability/log_format.py", "", "access log"),
    ("service/observability/", "write_call", "access log"),
    ("service/observability/http_metrics.py", "", "metrics"),
    ("service/observability/metrics.py", "", "metrics"),
    ("prometheus_client/", "", "metrics"),
    ("service/observability/", "", "hooks"),
    ("service/http/", "", "hooks"),
    ("service/request_ids.py", "", "hooks"),
    ("service/api_keys.py", "", "hooks"),
    ("service/callers.py", "", "hooks"),
    ("service/dataplane.py", "", "dataplane"),
)
# Frames that only pass a request on (the WSGI wrapper, gunicorn's config): not a layer.
THROUGH = ("service/http/client_address.py", "service/wsgi.py", "service/gunicorn_config.py")
FRAMEWORKS = (("flask/", "Flask"), ("werkzeug/", "Flask"), ("gunicorn/", "gunicorn"))
GRPC = (("grpc/", "grpc"), ("concurrent/futures/", "grpc"), ("threading.py", "grpc"))


def layer_of(frames: list[str]) -> str:
    """The layer of one sample, its frames leaf first (py-spy's `function (path:line)`)."""
    framework = ""
    for frame in frames:
        function, _, where = frame.partition(" (")
        path = where.rsplit(":", 1)[0]
        if any(through in path for through in THROUGH):
            continue
        for fragment, name, layer in OWN:
            if fragment in path and name in function:
                return layer
        if not framework:
            for fragment, layer in (*FRAMEWORKS, *GRPC):
                if fragment in path:
                    framework = layer
                    break
    return framework or "other"


def layer_shares(raw: str, detail: str = "") -> Counter[str]:
    """Samples per layer in py-spy's raw output (one `frame;frame;... count` line a stack);
    with `detail`, that layer's samples are split by their innermost function instead."""
    shares: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")[::-1]
            layer = layer_of(frames)
            if layer == detail:
                layer = f"{detail}: {frames[0]}"
            shares[layer] += int(count)
    return shares


@dataclass
class Processes:
    """The service's processes by role, under the launcher."""

    front: list[int]
    master: list[int]
    workers: list[int]

    @classmethod
    def under(cls, launcher: int) -> Processes:
        front: list[int] = []
        master: list[int] = []
        workers: list[int] = []
        for pid in _descendants(launcher):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"nginx" in command:
                front.append(pid)
            elif b"gunicorn" in command:
                parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                (workers if parent != launcher and parent in master else master).append(pid)
        return cls(front, master, workers)

    def cpu(self) -> dict[str, float]:
        return {
            role: sum(_cpu(pid) for pid in pids)
            for role, pids in (
                ("front", self.front),
                ("gunicorn master", self.master),
                ("workers", self.workers),
            )
        }


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in map(int, children):
        found += [child, *_descendants(child)]
    return found


def _cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def service(models_dir: Path, scratch: Path) -> Iterator[tuple[int, int, int]]:
    """`python -m service` on free ports: (launcher pid, REST port, gRPC port)."""
    port, grpc_port = free_port(), free_port()
    env = os.environ | {
        "SERVICE_PORT": str(port),
        "SERVICE_GRPC_PORT": str(grpc_port),
        "SERVICE_HOST": "127.0.0.1",
        "SERVICE_WORKERS": "2",
        "SERVICE_LOG_LEVEL": "warning",
        "SERVICE_MODELS_DIR": str(models_dir.absolute()),
        "SERVICE_DECISIONS_DATABASE": str(scratch / "decisions.sqlite3"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (scratch / "service.log").open("ab") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "service"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        grpc_load.wait_ready(f"127.0.0.1:{grpc_port}", timeout=120)
        yield launcher.pid, port, grpc_port
    finally:
        launcher.terminate()
        launcher.wait(timeout=120)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (pip install py-spy, in the dev extra)")
    return found


def profile(
    processes: Processes, load: Any, seconds: int, rate: int, scratch: Path, detail: str = ""
) -> tuple[Counter[str], dict[str, float], int]:
    """Sample every worker while `load()` runs; (samples per layer, CPU seconds per role,
    requests answered)."""
    spies = [
        subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(seconds),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(scratch / f"{pid}.raw"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in processes.workers
    ]
    time.sleep(0.5)  # py-spy attached
    before = processes.cpu()
    result = load()
    used = {role: value - before[role] for role, value in processes.cpu().items()}
    shares: Counter[str] = Counter()
    for spy, pid in zip(spies, processes.workers, strict=True):
        spy.wait()
        shares += layer_shares((scratch / f"{pid}.raw").read_text(), detail)
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests under load")
    return shares, used, result.requests


def report(name: str, shares: Counter[str], used: dict[str, float], requests: int) -> str:
    """One case's table: microseconds of CPU per request, by process and by layer."""
    per_request = {role: 1e6 * value / requests for role, value in used.items()}
    total = sum(shares.values()) or 1
    lines = [
        f"{name}: {requests} requests, CPU per request "
        + ", ".join(f"{role} {value:.0f} us" for role, value in per_request.items()),
        f"  {'layer':<12} {'share':>6} {'us':>6}",
    ]
    workers = per_request["workers"]
    for layer, count in shares.most_common():
        lines.append(f"  {layer:<12} {100 * count / total:5.1f}% {workers * count / total:6.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.layers", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--seconds", type=int, default=10, help="load per case")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples a second")
    parser.add_argument("--wires", nargs="+", choices=("rest", "grpc"), default=["rest", "grpc"])
    parser.add_argument("--detail", default="", help="split this layer by innermost function")
    args = parser.parse_args(argv)
    metadata = json.loads(
        (sorted((args.models_dir / "risk_class").iterdir())[-1] / "metadata.json").read_text()
    )
    with tempfile.TemporaryDirectory(prefix="layers-") as directory:
        scratch = Path(directory)
        with service(args.models_dir, scratch) as (launcher, port, grpc_port):
            processes = Processes.under(launcher)
            for case, applicant in CASES.items():
                body = scratch / f"{len(case)}.json"
                body.write_text(json.dumps({"instances": [applicant]}))
                script = wrk.script_for(body)
                columns = {name: [value] for name, value in applicant.items()}
                frame = grpc_load.frame(
                    grpc_load.request_bytes(columns, metadata["features"]), scratch
                )
                loads = {
                    "rest": partial(wrk.run, f"http://127.0.0.1:{port}{PREDICT}", script, 8),
                    "grpc": partial(grpc_load.run, f"127.0.0.1:{grpc_port}", frame, 8),
                }
                for wire in args.wires:
                    loads[wire](2)  # warm up, nothing sampled
                    load = partial(loads[wire], args.seconds)
                    measured = profile(
                        processes, load, args.seconds + 1, args.rate, scratch, args.detail
                    )
                    print(report(f"{wire}, {case}", *measured), flush=True)


if __name__ == "__main__":
    main()
