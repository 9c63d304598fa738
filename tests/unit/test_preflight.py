"""The launcher's start-up checks on real sockets and directories: a port is busy exactly when
nginx or gunicorn could not listen on it (the launcher itself: tests/integration)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from service import preflight
from service.preflight import Listener
from service.settings import Settings


def nginx_on(host: str, port: int) -> Listener:
    return Listener("SERVICE_PORT", host, port, v6only=True)


def listening(host: str, family: int = socket.AF_INET, reuse: bool = False) -> socket.socket:
    """Another process's server socket, on any free port of `host`."""
    other = socket.socket(family)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse))
    other.bind((host, 0))
    other.listen()
    return other


def test_a_port_whose_connections_linger_in_time_wait_is_free() -> None:
    """A restart finds its port's last connections in TIME_WAIT: nginx and gunicorn (with
    SO_REUSEADDR, as the previous instance's nginx had) listen there anyway, so the check must
    not call it busy."""
    with listening("127.0.0.1", reuse=True) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end lingers in TIME_WAIT
        client.close()
    with socket.socket() as plain, pytest.raises(OSError) as refused:
        plain.bind(("127.0.0.1", port))  # without SO_REUSEADDR the port looks taken
    assert refused.value.errno == errno.EADDRINUSE
    assert preflight._port(nginx_on("127.0.0.1", port)) is None


@pytest.mark.parametrize("held_on", ["127.0.0.1", "0.0.0.0"])
def test_a_port_another_socket_listens_on_is_busy(held_on: str) -> None:
    with listening(held_on) as other:
        port = other.getsockname()[1]
        problem = preflight._port(nginx_on("127.0.0.1", port))
    assert problem is not None and problem.startswith(f"SERVICE_PORT={port} is in use"), problem
    assert "set SERVICE_PORT to a free port" in problem


def test_the_same_port_on_another_address_is_free() -> None:
    """The host setting counts: 127.0.0.2 is loopback too on Linux, and its own address."""
    with listening("127.0.0.1") as other:
        assert preflight._port(nginx_on("127.0.0.2", other.getsockname()[1])) is None


def test_an_ipv6_wildcard_front_shares_its_port_with_ipv4_as_nginx_does() -> None:
    """nginx listens on [::] with ipv6only=on: an IPv4 server on the port does not stop it.
    gunicorn (SERVICE_FRONT=none) takes the IPv4 port too, where the system does by default."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        other = listening("0.0.0.0")
    except OSError:
        pytest.skip("cannot listen on 0.0.0.0")
    with other:
        port = other.getsockname()[1]
        assert preflight._port(nginx_on("::", port)) is None
        dual = Path("/proc/sys/net/ipv6/bindv6only")
        if dual.exists() and dual.read_text().strip() == "0":
            gunicorn = Listener("SERVICE_PORT", "::", port, v6only=False)
            assert "is in use" in (preflight._port(gunicorn) or "")


def test_an_address_not_of_this_machine_names_the_host_setting() -> None:
    problem = preflight._port(nginx_on("192.0.2.1", 8080))  # TEST-NET-1: nobody's address
    assert problem is not None and problem.startswith("SERVICE_HOST=192.0.2.1 is not an address")


def test_every_listener_is_the_front_s_gunicorn_s_or_grpc_s_unless_arguments_bind() -> None:
    grpc = Listener("SERVICE_GRPC_PORT", "127.0.0.1", 9124, v6only=False)
    settings = Settings(host="127.0.0.1", port=9123, grpc_port=9124)
    assert preflight.listeners(settings, []) == [nginx_on("127.0.0.1", 9123), grpc]
    alone = Settings(host="127.0.0.1", port=9123, grpc_port=9124, front="none")
    gunicorn = Listener("SERVICE_PORT", "127.0.0.1", 9123, False)
    assert preflight.listeners(alone, []) == [gunicorn, grpc]
    assert preflight.listeners(alone, ["--bind", "unix:/tmp/x.sock"]) == [grpc]
    no_grpc = Settings(host="127.0.0.1", port=9123, grpc_port=0)
    assert preflight.listeners(no_grpc, []) == [nginx_on("127.0.0.1", 9123)]


def test_grpc_on_the_rest_port_is_refused_naming_both_settings() -> None:
    same = Settings(host="127.0.0.1", port=9123, grpc_port=9123)
    problem = preflight._distinct_ports(same)
    assert problem is not None and problem.startswith("SERVICE_GRPC_PORT=9123 is SERVICE_PORT")
    assert preflight._distinct_ports(Settings(port=9123, grpc_port=0)) is None


def test_a_directory_is_unwritable_where_it_would_be_made(tmp_path: Path) -> None:
    assert preflight.unwritable(tmp_path / "not" / "yet") is None  # made in tmp_path
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert preflight.unwritable(blocker / "below") == f"{blocker} is not a directory"
    assert list(tmp_path.iterdir()) == [blocker]  # the probe left nothing behind


@pytest.mark.parametrize(
    "published, held",
    [((), False), (("underwriting_policy/1/policy.json",), False), (("x/1/metadata.json",), True)],
)
def test_a_model_repository_must_hold_a_model_version(
    tmp_path: Path, published: tuple[str, ...], held: bool
) -> None:
    for name in published:
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_text("{}")
    problem = preflight._models(tmp_path, "SERVICE_MODELS_DIR")
    assert (problem is None) is held, problem
