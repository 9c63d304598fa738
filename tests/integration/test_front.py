"""The front (nginx, started by `python -m service`) against slow, malformed and hostile clients,
and the instance's shutdown under load.

Everything runs for real on loopback: the launcher, nginx from Debian, gunicorn with two
workers. Malformed requests that gunicorn would answer in HTML, or with a 500, or by holding a
worker, are answered by nginx in the service's envelope; slow-loris connections cost normal
clients nothing; SIGTERM loses no request sent before it.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from service_support import (
    free_port,
    make_repository,
    served,
    start_service,
    stop_service,
    wait_ready,
)
from tool_support import require_nginx

from bench.abuse import (
    MALFORMED_REQUESTS,
    PREDICT,
    SlowClients,
    applicant_body,
    exchange,
    json_post,
    normal_clients,
)

SLOW_LORIS_SECONDS = 20.0  # the bench holds them for 60 s: python -m bench.abuse
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


@pytest.fixture(scope="module")
def front(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_nginx()
    root = tmp_path_factory.mktemp("front")
    models_dir = make_repository(tiny_models_dir, root / "models")
    log = root / "service.log"
    with served(models_dir, log, decisions_database=str(root / "decisions.sqlite3")) as (
        base_url,
        _,
    ):
        yield base_url, int(base_url.rsplit(":", 1)[1]), log


@pytest.mark.parametrize(
    "case, request_bytes, status", MALFORMED_REQUESTS, ids=[c[0] for c in MALFORMED_REQUESTS]
)
def test_a_malformed_request_is_answered_in_the_envelope_at_once(
    front: Any, case: str, request_bytes: bytes, status: int
) -> None:
    base_url, port, _ = front
    started = time.monotonic()
    got, headers, body = exchange(port, request_bytes)
    elapsed = time.monotonic() - started
    assert got == status, body[:300]
    assert elapsed < 10.0, f"{case}: {elapsed:.2f} s"  # bounded (timings: bench.abuse --cases)
    assert headers["content-type"] == "application/json"
    envelope = json.loads(body)
    assert set(envelope) == {"error", "details"} and envelope["error"], envelope
    assert all(name.lower() in headers for name in SECURITY_HEADERS), headers
    assert "<html" not in body.decode("utf-8", "replace").lower()
    # The service keeps serving.
    answer = requests.post(
        f"{base_url}{PREDICT}",
        data=applicant_body(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200


def test_the_front_names_the_request_in_its_own_errors(front: Any) -> None:
    _, port, _ = front
    twice = b"X-Request-ID: abc-1\r\nContent-Length: 2\r\n"  # a duplicate Content-Length: 400
    status, headers, body = exchange(port, json_post(PREDICT, b"{}", twice))
    assert status == 400
    assert headers["x-request-id"] == "abc-1" == json.loads(body)["details"]["request_id"]
    status, headers, body = exchange(port, b"get / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert json.loads(body)["details"]["request_id"] == headers["x-request-id"]


def assert_envelope(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The service's error envelope, with the security headers and the request's id."""
    assert headers["content-type"] == "application/json", headers
    envelope = json.loads(body)
    assert set(envelope) == {"error", "details"} and envelope["error"], envelope
    assert all(name.lower() in headers for name in SECURITY_HEADERS), headers
    assert "x-request-id" in headers, headers
    return dict(envelope)


@pytest.mark.parametrize(
    "target",
    [b"/v1/models/\xc3\xbcnderwriting:predict", b"/v1/models/underwriting:predict?q=\xff"],
    ids=["in the path", "in the query"],
)
def test_a_byte_outside_ascii_in_the_target_is_refused_in_the_envelope(
    front: Any, target: bytes
) -> None:
    _, port, _ = front
    status, headers, body = exchange(port, json_post(target.decode("latin-1"), b"{}"))
    assert status == 400, body[:300]
    envelope = assert_envelope(headers, body)
    assert "outside ASCII" in envelope["error"] and "percent-encode" in envelope["error"]
    # Percent-encoded as the message says, the same target reaches the service's routes.
    status, headers, body = exchange(port, json_post("/v1/models/%C3%BCnderwriting:predict", b"{}"))
    assert status == 404 and "nderwriting" in assert_envelope(headers, body)["error"]


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PATCH", "BREW"])
@pytest.mark.parametrize(
    "path, allowed",
    [(PREDICT, "OPTIONS, POST"), ("/healthz", "GET, HEAD, OPTIONS")],
    ids=["predict", "healthz"],
)
def test_a_method_a_route_does_not_serve_is_a_405_with_its_allow_header(
    front: Any, method: str, path: str, allowed: str
) -> None:
    """nginx refuses TRACE and CONNECT itself; they are answered as any other method a route
    does not serve (PATCH, or a method HTTP does not define): 405 with the route's Allow header,
    which HTTP requires."""
    _, port, _ = front
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
    status, headers, body = exchange(port, request.encode())
    assert status == 405, body[:300]
    assert headers.get("allow") == allowed, headers
    assert assert_envelope(headers, body)["details"]["allowed_methods"] == allowed.split(", ")
    status, headers, body = exchange(
        port, f"{method} /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert status == 404 and assert_envelope(headers, body)


def read_until_closed(port: int, request: bytes, timeout: float = 30.0) -> tuple[bytes, float]:
    """Send raw bytes and read until the server closes: what came, and after how long."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received, time.monotonic() - started


@pytest.mark.parametrize(
    "request_line",
    [b"GET /healthz\r\n", b"POST " + PREDICT.encode() + b"\r\n", b"GET /a\nb HTTP/1.1\r\n\r\n"],
    ids=["GET", "another method", "a line feed in the target"],
)
def test_an_http09_request_line_is_answered_with_a_status_line(
    front: Any, request_line: bytes
) -> None:
    """nginx answers HTTP/0.9 with a bare body; the front answers a 400 a client can read,
    status line and headers included, and closes the connection."""
    _, port, _ = front
    received, _ = read_until_closed(port, request_line)
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n"), received[:300]
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
    assert headers["connection"] == "close"
    envelope = assert_envelope(headers, body)
    assert "HTTP/0.9" in envelope["error"]
    assert envelope["details"]["request_id"] == headers["x-request-id"]


CLIENT_TIMEOUT_SECONDS = 10.0  # SERVICE_CLIENT_TIMEOUT_SECONDS's default, the fixture's


def read_answer_and_close(port: int, request: bytes) -> tuple[bytes, float, float]:
    """Send raw bytes and read until the server closes: what came, after how long its first
    byte came, and after how long the connection closed."""
    started = time.monotonic()
    first = None
    with socket.create_connection(("127.0.0.1", port), timeout=30.0) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            first = time.monotonic() if first is None else first
            received += chunk
    closed = time.monotonic()
    return received, (closed if first is None else first) - started, closed - started


def test_a_body_that_stops_arriving_is_a_408_and_never_reaches_the_service(front: Any) -> None:
    """A body shorter than its Content-Length, or a chunked body never ended: after the client
    timeout the front answers 408 in the envelope, naming the request, and closes the
    connection; the service never saw the request, so sending it again runs it once."""
    _, port, log = front
    head = f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    stalls = {
        "stalled-short-body": 'Content-Length: 100\r\n\r\n{"instances": [',
        "stalled-chunked-body": 'Transfer-Encoding: chunked\r\n\r\n5\r\n{"ins\r\n',
    }
    requests_sent = [
        f"{head}X-Request-ID: {request_id}\r\n{rest}".encode()
        for request_id, rest in stalls.items()
    ]
    with ThreadPoolExecutor(len(requests_sent)) as pool:  # both stall at once: one wait
        outcomes = list(pool.map(lambda raw: read_answer_and_close(port, raw), requests_sent))
    for request_id, (received, answered, closed) in zip(stalls, outcomes, strict=True):
        assert received.startswith(b"HTTP/1.1 408 "), received[:300]
        assert CLIENT_TIMEOUT_SECONDS - 0.5 < answered < CLIENT_TIMEOUT_SECONDS + 3.0, answered
        assert closed < answered + 10.0, (answered, closed)  # then the connection closes
        head_bytes, _, body = received.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")[1:]
        headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
        assert headers["connection"] == "close", headers
        assert int(headers["content-length"]) == len(body), headers
        envelope = assert_envelope(headers, body)
        assert "Request timeout" in envelope["error"], envelope
        assert headers["x-request-id"] == request_id == envelope["details"]["request_id"]
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert not any(request_id in logged for request_id in stalls)


def test_every_log_line_is_a_json_object(front: Any) -> None:
    """Every line the instance writes is a JSON object, whoever wrote it: the service and
    gunicorn; nginx (its error log, read from a pipe by the launcher); LiteRT's native code in
    each worker that loaded the models (read from the worker's fd 2). So no text a client sends
    can start a line (tests/unit/test_front_launcher.py feeds the formatter forged text), and no
    library's text lands inside another line."""
    _, port, log = front
    exchange(port, json_post(PREDICT, b'{"instances":[{"a\\n[2026-12-01] [ERROR] FORGED":1}]}'))
    for _ in range(8):  # sync workers close each connection: both workers answer
        assert exchange(port, json_post(PREDICT, applicant_body()))[0] == 200
    # Over nginx's 1 MiB body buffer: nginx warns that it spooled the body to a file.
    exchange(port, json_post(PREDICT, b'{"instances": [' + b" " * (1536 * 1024) + b"]}"))
    deadline = time.monotonic() + 10
    while "service.front.nginx" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)  # the launcher logs what nginx wrote as it arrives
    entries = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        entries.append(entry)
    loggers = {entry.get("logger", "access") for entry in entries}
    assert {"gunicorn.error", "service.repository.store", "service.front", "access"} <= loggers
    spooled = [e for e in entries if e.get("logger") == "service.front.nginx"]
    assert any("buffered to a temporary file" in e["message"] for e in spooled), spooled
    assert all(e["level"] == "warning" for e in spooled), spooled
    native = [e for e in entries if e.get("logger") == "service.native"]
    delegates = {e["pid"] for e in native if "XNNPACK delegate" in e["message"]}
    assert len(delegates) == 2, native  # one for each worker's LiteRT
    assert {e["level"] for e in native} == {"info"}, native


def test_slow_loris_connections_cost_normal_clients_nothing(front: Any) -> None:
    _, port, _ = front
    with SlowClients(port, 64) as slow:
        time.sleep(1.0)  # every slow connection is open and stalling
        outcomes = normal_clients(port, applicant_body(), SLOW_LORIS_SECONDS)
    print(
        f"\n64 slow-loris connections ({slow.opened} opened) for {SLOW_LORIS_SECONDS:.0f} s, "
        f"8 normal clients: {outcomes.summary()}"
    )
    assert outcomes.failures == 0, outcomes.counts
    assert outcomes.counts["200"] > 100
    assert slow.opened >= 64


@pytest.mark.timeout(240)
@pytest.mark.parametrize("drain_seconds", [1.0, 3.0])  # the default, and longer
def test_sigterm_under_load_loses_no_request_sent_before_it(
    tiny_models_dir: Path, tmp_path: Path, drain_seconds: float
) -> None:
    models_dir = make_repository(tiny_models_dir, tmp_path / "models")
    port = free_port()
    process = start_service(
        models_dir,
        port,
        tmp_path / "service.log",
        decisions_database=str(tmp_path / "decisions.sqlite3"),
        drain_seconds=str(drain_seconds),
    )
    base_url = f"http://127.0.0.1:{port}"
    sent: list[tuple[float, str]] = []  # (when the request was sent, what came of it)
    lock = threading.Lock()
    stop = threading.Event()
    body = applicant_body()
    try:
        wait_ready(base_url)

        def client() -> None:
            session = requests.Session()
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answer = session.post(
                        f"{base_url}{PREDICT}",
                        data=body,
                        timeout=30,
                        headers={"Content-Type": "application/json"},
                    )
                    outcome = str(answer.status_code)
                except requests.ConnectionError as exc:
                    outcome = f"connection error: {exc}"[:120]
                with lock:
                    sent.append((started, outcome))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        readiness = []
        time.sleep(0.1)  # the launcher has heard the signal
        while time.monotonic() - signalled < drain_seconds - 0.3:  # not at the very end
            readiness.append(requests.get(f"{base_url}/readyz", timeout=5).status_code)
            time.sleep(0.2)
        assert process.wait(timeout=60) == 0
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        stop_service(process)
    before = [outcome for started, outcome in sent if started < signalled]
    after = [outcome for started, outcome in sent if started >= signalled]
    print(
        f"\nSIGTERM with {drain_seconds} s of drain: {len(before)} requests sent before it, "
        f"{len(after)} after ({sum(o == '200' for o in after)} answered 200)"
    )
    assert len(before) > 100
    assert set(before) == {"200"}, [o for o in before if o != "200"][:5]
    assert readiness and set(readiness) == {503}, readiness  # routed away while serving
    assert sum(o == "200" for o in after) > 10  # still answering during the drain
