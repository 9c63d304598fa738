"""The front's pieces that need no server: its nginx configuration, its log format, the
launcher's refusals (nginx itself, and the launcher under it: the integration tier).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from service.front import config, supervisor
from service.observability.log_format import JsonFormatter
from service.settings import Settings


def test_every_error_page_nginx_answers_is_a_json_envelope() -> None:
    text = config.render(Settings(), config.FrontLayout(Path("/run/x")))
    bodies = [
        line.split("'", 1)[1].rsplit("'", 1)[0]
        for line in text.splitlines()
        if line.strip().startswith("return ")
    ]
    assert len(bodies) == text.count("location = /_front/") >= 12
    written_out = [body for body in bodies if body.startswith("HTTP/1.1 ")]
    assert len(written_out) == 1  # HTTP/0.9's answer, headers and all
    for body in bodies:
        body = body.rpartition("\\r\\n\\r\\n")[2]
        envelope = json.loads(body.replace("$service_request_id", "id").replace("\\n", ""))
        assert set(envelope) == {"error", "details"} and envelope["details"]["request_id"] == "id"


def test_the_http09_answer_spells_out_the_headers_of_every_other_error() -> None:
    """nginx sends no headers under HTTP/0.9, so that answer writes them into its body: the
    same as error_headers.conf adds to the front's other errors."""
    text = config.render(Settings(), config.FrontLayout(Path("/run/x")))
    (line,) = [line for line in text.splitlines() if "return 400 'HTTP/1.1 400 " in line]
    head = line.split("'", 1)[1].split("\\r\\n\\r\\n", 1)[0].replace("\\'", "'")
    written = dict(field.split(": ", 1) for field in head.split("\\r\\n")[1:])
    added = {}
    for entry in (config.CONFIG_DIR / "error_headers.conf").read_text().splitlines():
        if entry.startswith("add_header "):
            name, value = entry.removeprefix("add_header ").removesuffix(" always;").split(" ", 1)
            added[name] = value.strip('"')
    assert added and written == added | {"Content-Type": "application/json", "Connection": "close"}


def test_the_inner_server_answers_in_the_outer_server_s_words_and_gives_up_first() -> None:
    """The inner server (the second hop) repeats some of the outer server's error pages: each
    says the same wherever it is. Its body and upstream timeouts are the shorter ones, so it
    gives up on a body (the outer server then answers 408) or answers before the outer one
    would close the connection with nothing sent."""
    settings = Settings(client_timeout_seconds=7, worker_timeout_seconds=30)
    text = config.render(settings, config.FrontLayout(Path("/run/x")))
    outer, inner = text.split("\n    # The second hop: the inner server", 1)
    pages: dict[str, set[str]] = {}
    for name, answer in re.findall(r"location = (/_front/\w+) \{[^}]*?(return [^\n]*)", text):
        pages.setdefault(name, set()).add(answer)
    assert all(len(answers) == 1 for answers in pages.values()), pages
    assert inner.count("location = /_front/") == 4
    assert "client_body_timeout 12s;" in outer and "client_body_timeout 7s;" in text
    assert "proxy_read_timeout 80s;" in outer and "proxy_read_timeout 35s;" in inner


@pytest.mark.parametrize(
    "host, listen", [("0.0.0.0", "8080"), ("127.0.0.1", "127.0.0.1:8080"), ("::1", "[::1]:8080")]
)
def test_the_listen_address_follows_the_host_setting(host: str, listen: str) -> None:
    assert config._listen(host, 8080) == listen


def test_a_log_line_is_one_json_object_whatever_the_message_holds() -> None:
    forged = "key\n[2026-12-01 10:00:00 +0000] [1] [ERROR] FORGED \ud800"
    try:
        raise ValueError(forged)
    except ValueError:
        record = logging.LogRecord(
            "gunicorn.error", logging.ERROR, __file__, 1, "bad %s", (forged,), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line and line.isascii()
    parsed = json.loads(line)
    assert parsed["message"] == f"bad {forged}" and parsed["level"] == "error"
    assert parsed["logger"] == "gunicorn.error" and "ValueError" in parsed["exception"]


def test_the_launcher_refuses_to_start_without_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "nginx_binary", lambda: None)
    with pytest.raises(supervisor.FrontError, match="nginx is not installed.*SERVICE_FRONT=none"):
        supervisor.run(Settings(), ["gunicorn"])


def test_a_bind_past_the_front_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "nginx_binary", lambda: Path("/usr/sbin/nginx"))
    for args in (
        ["--bind", "0.0.0.0:9000"],
        ["-b", "x"],
        ["--bind=0.0.0.0:9000"],
        ["-b0.0.0.0:9000"],
        ["--bin", "x"],
        ["--bi=x"],
    ):
        with pytest.raises(supervisor.FrontError, match="past the front"):
            supervisor.run(Settings(), ["gunicorn", *args])


def test_a_runtime_dir_too_deep_for_a_socket_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor, "nginx_binary", lambda: Path("/usr/sbin/nginx"))
    deep = "/tmp/" + "d" * 100
    with pytest.raises(supervisor.FrontError, match="too deep for a Unix socket"):
        supervisor.run(Settings(runtime_dir=Path(deep)), ["gunicorn"])
    assert not any(Path(deep).iterdir())  # its private directory was removed
    Path(deep).rmdir()
