"""`python -m bench.abuse`: normal clients while slow and broken clients hold connections.

Starts the service twice over the repository's models (two workers each): behind its front
(nginx), then with SERVICE_FRONT=none (gunicorn alone). Each time, 64 slow-loris connections
(headers or a body trickled a byte a second, a body cut short, an unterminated chunked body, a
TLS ClientHello on the plain port; each reconnects when closed) are held for `--seconds` while
8 normal clients send single-record predictions. Prints the normal clients' answers, failures,
median and p99 latency, before the attack and during it. `--cases` times each malformed request
through the front; `--overhead` runs wrk against both set-ups, alternating, for what the front
costs a request.

The tests drive the same clients for a shorter time (tests/integration/test_front.py).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import wrk

APPLICANT = Path(__file__).parents[1] / "examples" / "applicant.json"
PREDICT = "/v1/models/underwriting:predict"
TLS_CLIENT_HELLO = bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01"

# (what is sent at once, what is then trickled a byte a second; b"" = hold the connection idle)
SLOW_PATTERNS: tuple[tuple[bytes, bytes], ...] = (
    (b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 4096),
    (
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n",
        b"[" * 100_000,
    ),
    (
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"instances": [',
        b"",
    ),
    (
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"ins\r\n',
        b"",
    ),
    (TLS_CLIENT_HELLO, b""),
)


def json_post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    """A raw POST of a JSON body, with extra header lines."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


# (case, raw request, expected status): each once gave HTML, a 500, or held a worker; now each
# is answered in the envelope (4xx; 501 and 505 for what HTTP names so).
MALFORMED_REQUESTS: list[tuple[str, bytes, int]] = [
    ("request line too long", b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (
        "header line too long",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        431,
    ),
    ("lowercase method", b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (
        "obs-fold header",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  [2026] FORGED\r\n\r\n",
        400,
    ),
    ("asterisk target", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("duplicate Content-Length", json_post(PREDICT, b"{}", b"Content-Length: 2\r\n"), 400),
    (
        "Content-Length and chunked",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        400,
    ),
    (
        "malformed chunk size",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        400,
    ),
    (
        "unknown transfer coding",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    ),
    ("TLS on the plain port", bytes.fromhex("16030100a5010000a10303") + bytes(100), 400),
    ("HTTP/2 request line", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("HTTP/2 connection preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    ("NUL in the target", b"GET /v1/models/risk\x00class HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (
        "body over the limit",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n",
        413,
    ),
    ("gzip body", json_post(PREDICT, b"\x1f\x8b\x08\x00", b"Content-Encoding: gzip\r\n"), 415),
    ("br on a plain body", json_post(PREDICT, b"{}", b"Content-Encoding: br\r\n"), 415),
    (
        "a Latin-1 charset",
        json_post(PREDICT, b"{}").replace(
            b"application/json", b"application/json; charset=latin-1"
        ),
        415,
    ),
    ("lone surrogate in an unknown key", json_post(PREDICT, b'{"instances":[{"\\ud800":1}]}'), 400),
    (
        "lone surrogate in a V2 input name and id",
        json_post(
            "/v2/models/risk_class/infer",
            b'{"id":"\\ud800","inputs":[{"name":"\\ud800","shape":[1],"datatype":"FP32",'
            b'"data":[1]}]}',
        ),
        400,
    ),
    (
        "1.6 million unknown keys (19 MB)",
        json_post(
            PREDICT,
            b'{"instances":[{' + b",".join(b'"k%d":0' % i for i in range(1_600_000)) + b"}]}",
        ),
        413,
    ),
    (
        "JSON nested 100,000 deep",
        json_post(PREDICT, b'{"instances":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        400,
    ),
    ("a doubled slash", b"GET //v1/models/nonexistent HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    # Within the front's limits but beyond gunicorn's defaults (its HTML 414, 431, 400):
    (
        "a request line of 5,000 bytes",
        b"GET /" + b"a" * 5_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        404,
    ),
    (
        "a header line of 8,192 bytes",
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 8187 + b"\r\n\r\n",
        404,
    ),
    (
        "150 header lines",
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 150 + b"\r\n",
        404,
    ),
    (
        "contradictory scheme headers",
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Forwarded-Ssl: on\r\n"
        b"X-Forwarded-Proto: http\r\n\r\n",
        404,
    ),
    ("the front's own error page", b"GET /_front/bad_request HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (
        "a request id that would break the JSON",
        json_post(PREDICT, b"{}", b'X-Request-ID: a"}\r\nContent-Length: 2\r\n'),
        400,
    ),
]


def exchange(port: int, request: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one answer: status, headers (lower-case names), body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):  # refused before all of it was sent
            pass
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed without an answer after {received[:200]!r}")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers = {name.lower(): value for name, value in headers.items()}
        while len(body) < int(headers.get("content-length", 0)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(lines[0].split()[1]), headers, body


@dataclass
class Outcomes:
    """What the normal clients saw: latency of each answer, and every status or failure."""

    latencies: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, seconds: float) -> None:
        with self.lock:
            self.counts[what] += 1
            if what == "200":
                self.latencies.append(seconds)

    @property
    def failures(self) -> int:
        return sum(n for what, n in self.counts.items() if what != "200")

    def summary(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1e3 if ordered else float("nan")
        p99 = ordered[int(len(ordered) * 0.99)] * 1e3 if ordered else float("nan")
        return (
            f"{sum(self.counts.values())} requests, {self.failures} failed "
            f"({dict(self.counts)}), p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99)] * 1e3


class SlowClients:
    """`count` connections cycling through SLOW_PATTERNS, each reopened when the server closes
    it, until stopped. `opened` counts connections made (more than `count`: the server closed
    some, as it should)."""

    def __init__(self, port: int, count: int = 64) -> None:
        self.port = port
        self.stop = threading.Event()
        self.opened = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(
                target=self._hold, args=(SLOW_PATTERNS[k % len(SLOW_PATTERNS)],), daemon=True
            )
            for k in range(count)
        ]

    def __enter__(self) -> SlowClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _hold(self, pattern: tuple[bytes, bytes]) -> None:
        prefix, trickle = pattern
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    with self._lock:
                        self.opened += 1
                    sock.sendall(prefix)
                    sock.settimeout(1.0)
                    for byte in range(len(trickle) or sys.maxsize):
                        if self.stop.is_set():
                            return
                        if trickle:
                            sock.sendall(trickle[byte : byte + 1])
                        try:  # a second between bytes; an answer or a close ends this one
                            sock.recv(4096)
                            break
                        except TimeoutError:
                            continue
            except OSError:  # refused, reset, or a send on a connection the server closed
                pass
            self.stop.wait(1.0)  # a slow client, not a flood: it comes back a second later


def normal_clients(
    port: int, body: bytes, seconds: float, concurrency: int = 8, timeout: float = 10.0
) -> Outcomes:
    """`concurrency` keep-alive clients sending `body` to PREDICT for `seconds`."""
    outcomes = Outcomes()
    deadline = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                connection.request("POST", PREDICT, body, headers)
                response = connection.getresponse()
                response.read()
                outcomes.add(str(response.status), time.perf_counter() - started)
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException) as exc:
                outcomes.add(type(exc).__name__, time.perf_counter() - started)
                connection.close()
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def applicant_body() -> bytes:
    return json.dumps({"instances": [json.loads(APPLICANT.read_text())]}).encode()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the attack lasts")
    parser.add_argument("--slow", type=int, default=64, help="slow-loris connections")
    parser.add_argument("--port", type=int, default=18095)
    parser.add_argument(
        "--cases",
        action="store_true",
        help="instead: time each malformed request through the front",
    )
    parser.add_argument(
        "--overhead",
        action="store_true",
        help="instead: wrk with and without the front, side by side",
    )
    return parser.parse_args(argv)


def wait_ready(port: int, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become ready")


def time_cases(port: int, repeat: int = 5) -> None:
    """Each malformed request `repeat` times: its status and the median and worst time."""
    for case, request, _ in MALFORMED_REQUESTS:
        times, statuses = [], set()
        for _ in range(repeat):
            started = time.perf_counter()
            statuses.add(exchange(port, request)[0])
            times.append(time.perf_counter() - started)
        print(
            f"{case:<45} {sorted(statuses)}  median {statistics.median(times) * 1e3:7.1f} ms"
            f"  worst {max(times) * 1e3:7.1f} ms"
        )


@contextmanager
def service(front: str, port: int, models_dir: Path) -> Iterator[None]:
    """The service on `port`, with or without its front, until the block ends."""
    with tempfile.TemporaryDirectory() as scratch:
        env = os.environ | {
            "SERVICE_FRONT": front,
            "SERVICE_PORT": str(port),
            "SERVICE_GRPC_PORT": "0",  # REST is what this measures
            "SERVICE_HOST": "127.0.0.1",
            "SERVICE_WORKERS": "2",
            "SERVICE_MODELS_DIR": str(models_dir.absolute()),
            "SERVICE_DECISIONS_DATABASE": str(Path(scratch) / "decisions.sqlite3"),
        }
        quiet = subprocess.DEVNULL
        server = subprocess.Popen(
            [sys.executable, "-m", "service"], env=env, stdout=quiet, stderr=quiet
        )
        try:
            wait_ready(port)
            yield
        finally:
            server.terminate()
            server.wait(timeout=120)


def front_overhead(args: argparse.Namespace, rounds: int = 3) -> None:
    """wrk against the service with and without its front, runs alternating, medians kept."""
    with tempfile.TemporaryDirectory() as scratch:
        body = Path(scratch) / "body.json"
        body.write_bytes(applicant_body())
        script = wrk.script_for(body)
        ports = {"nginx": args.port, "none": args.port + 1}
        with (
            service("nginx", ports["nginx"], args.models_dir),
            service("none", ports["none"], args.models_dir),
        ):
            for connections in (1, 8):
                runs: dict[str, list[wrk.Result]] = {front: [] for front in ports}
                for _ in range(rounds):
                    for front, port in ports.items():
                        url = f"http://127.0.0.1:{port}{PREDICT}"
                        runs[front].append(wrk.run(url, script, connections, 5))
                for front, results in runs.items():
                    rps = statistics.median(r.requests_per_second for r in results)
                    p50 = statistics.median(r.p50 for r in results) * 1e3
                    p99 = statistics.median(r.p99 for r in results) * 1e3
                    errors = sum(r.errors for r in results)
                    print(
                        f"c={connections} front={front:<5} {rps:7.0f} req/s  p50 {p50:6.2f} ms"
                        f"  p99 {p99:6.2f} ms  errors {errors}"
                    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.overhead:
        front_overhead(args)
        return
    body = applicant_body()
    for front in ("nginx",) if args.cases else ("nginx", "none"):
        with service(front, args.port, args.models_dir):
            if args.cases:
                time_cases(args.port)
                continue
            calm = normal_clients(args.port, body, 10.0)
            # Without the front the clients would wait out the attack: bound each request.
            with SlowClients(args.port, args.slow) as slow:
                attacked = normal_clients(args.port, body, args.seconds, timeout=5.0)
            print(f"front={front:<5} calm:        {calm.summary()}")
            attack = f"{args.slow} slow-loris for {args.seconds:.0f} s ({slow.opened} opened)"
            print(f"front={front:<5} under {attack}: {attacked.summary()}")


if __name__ == "__main__":
    main()
