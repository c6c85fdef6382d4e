"""Who may call the daemon, over real sockets: socket mode and group, bearer tokens on TCP;
and which addresses it may take (a port in use, a live unix socket)."""

from __future__ import annotations

import asyncio
import grp
import json
import os
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration

TOKEN = "tok-4f1c9a7e2b6d8c3f5a0e9b1d7c2a6f4e"


class UmaskZeroDaemon(Daemon):
    """The daemon started under `umask 000`: its socket must still be owner-only."""

    def command(self) -> list[str]:
        return ["sh", "-c", 'umask 000 && exec "$@"', "sh", *super().command()]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_unix_socket_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    daemon = UmaskZeroDaemon().start()
    try:
        assert daemon.socket.is_socket()
        assert _mode(daemon.socket) == 0o600
        assert daemon.stub().GetStats(pb.GetStatsRequest(), timeout=5).version
    finally:
        daemon.cleanup()


def test_socket_group_gets_read_write(start_daemon) -> None:  # type: ignore[no-untyped-def]
    group = grp.getgrgid(os.getgid()).gr_name
    daemon = start_daemon({"server": {"socket_group": group}})
    assert _mode(daemon.socket) == 0o660
    assert daemon.socket.stat().st_gid == os.getgid()


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice", "serve", *args],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_off_loopback_tcp_without_a_token_refuses_to_start() -> None:
    result = _serve("--listen", "0.0.0.0:0")
    assert result.returncode == 2
    assert "server.auth_token_file" in result.stderr
    assert "0.0.0.0:0" in result.stderr


@pytest.mark.parametrize(("content", "fragment"), [(None, "cannot read"), ("short", "16 char")])
def test_a_bad_token_file_refuses_to_start(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    config = tmp_path / "c.yaml"
    config.write_text(f"server:\n  auth_token_file: {token_file}\n  http: null\n")
    result = _serve("--config", str(config), "--listen", "0.0.0.0:0")
    assert result.returncode == 2, result.stderr
    assert "server.auth_token_file" in result.stderr
    assert fragment in result.stderr


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def token_daemon(start_daemon, token_file: Path) -> Daemon:  # type: ignore[no-untyped-def]
    daemon: Daemon = start_daemon(
        {"server": {"auth_token_file": str(token_file)}}, args=("--listen", "0.0.0.0:0")
    )
    return daemon


def _tcp_port(daemon: Daemon) -> int:
    (tcp,) = [a for a in daemon.info["grpc"] if not a.startswith("unix://")]
    return int(tcp.rpartition(":")[2])


def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_tcp_calls_need_the_bearer_token(token_daemon: Daemon) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{_tcp_port(token_daemon)}") as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        stats = pb.GetStatsRequest()
        good = (("authorization", f"Bearer {TOKEN}"),)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetStats(stats, timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "authorization: Bearer" in info.value.details()
        wrong = (("authorization", "Bearer sk-not-the-token-0123456789"),)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetStats(stats, timeout=5, metadata=wrong)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "sk-not-the-token" not in info.value.details()
        no_scheme = (("authorization", TOKEN),)
        code = _code(lambda: stub.GetStats(stats, timeout=5, metadata=no_scheme))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert stub.GetStats(stats, timeout=5, metadata=good).version
        assert stub.GetStats(
            stats, timeout=5, metadata=(("authorization", f"bearer {TOKEN}"),)
        ).version
        # Streaming calls are guarded too, before the first message.
        request = pb.CompleteRequest(messages=[pb.Message(role=pb.ROLE_USER, content="hi")])
        code = _code(lambda: list(stub.StreamComplete(request, timeout=5)))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        # Reflection discloses the API: guarded. Health is for probes: open.
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        listing = reflection_pb2.ServerReflectionRequest(list_services="")
        code = _code(lambda: list(reflect.ServerReflectionInfo(iter([listing]), timeout=5)))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        health = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    # The unix socket is guarded by its mode: no token needed there.
    assert token_daemon.stub().GetStats(pb.GetStatsRequest(), timeout=5).version
    token_daemon.stop()
    log = token_daemon.log()
    assert TOKEN not in log
    assert "sk-not-the-token" not in log
    assert any(line.get("event") == "unauthenticated" for line in token_daemon.log_lines())


# ---- the OpenAI front: its own listener, the same token


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


def test_off_loopback_openai_front_without_a_token_refuses_to_start() -> None:
    result = _serve("--openai", "0.0.0.0:0", "--listen", "127.0.0.1:0")
    assert result.returncode == 2, result.stderr
    assert "server.auth_token_file" in result.stderr
    assert "server.openai" in result.stderr
    assert "0.0.0.0:0" in result.stderr


def test_metrics_port_serves_no_front_and_the_front_no_metrics(shared_daemon: Daemon) -> None:
    assert _get(f"{shared_daemon.http}/metrics")[0] == 200
    assert _get(f"{shared_daemon.http}/v1/models")[0] == 404
    assert _get(f"{shared_daemon.openai}/v1/models")[0] == 200
    assert _get(f"{shared_daemon.openai}/metrics")[0] == 404


def test_the_front_needs_the_bearer_token_on_tcp(token_daemon: Daemon) -> None:
    models = f"{token_daemon.openai}/v1/models"
    status, headers, body = _get(models)
    assert status == 401
    assert headers["WWW-Authenticate"] == "Bearer"
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"
    assert "Authorization: Bearer" in error["message"]
    sent = "sk-not-the-token-0123456789"
    status, _, body = _get(models, {"Authorization": f"Bearer {sent}"})
    assert status == 401
    assert sent not in body.decode(), "what was sent is never echoed"
    # Unknown routes too: nothing about the front is disclosed without the token.
    assert _get(f"{token_daemon.openai}/v1/nothing-here")[0] == 401
    assert _get(models, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert _get(models, {"Authorization": f"bearer {TOKEN}"})[0] == 200
    # The metrics listener never asks for it (Prometheus).
    assert _get(f"{token_daemon.http}/metrics")[0] == 200
    token_daemon.stop()
    assert TOKEN not in token_daemon.log()
    assert sent not in token_daemon.log()


def test_an_exposed_front_with_a_token_starts_with_a_warning(
    token_file: Path, start_daemon
) -> None:  # type: ignore[no-untyped-def]
    daemon: Daemon = start_daemon(
        {"server": {"auth_token_file": str(token_file)}}, args=("--openai", "0.0.0.0:0")
    )
    port = daemon.info["openai"].rpartition(":")[2]
    assert _get(f"http://127.0.0.1:{port}/v1/models")[0] == 401
    warned = [x for x in daemon.log_lines() if x.get("event") == "openai_front_off_loopback"]
    assert len(warned) == 1
    assert "unencrypted" in warned[0]["reason"]


def test_the_front_on_a_unix_socket_needs_no_token(start_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    daemon: Daemon = start_daemon(
        {"server": {"auth_token_file": str(token_file)}},
        args=("--openai", f"unix://{tmp_path}/o.sock"),
    )
    socket_path = tmp_path / "o.sock"
    assert daemon.info["openai"] == f"unix://{socket_path}"
    assert _mode(socket_path) == 0o600, "owner-only, as the gRPC socket"

    async def models() -> int:
        connector = aiohttp.UnixConnector(path=str(socket_path))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get("http://sluice/v1/models") as r,
        ):
            return r.status

    assert asyncio.run(models()) == 200
    daemon.stop()
    assert not socket_path.exists(), "removed on exit"


# ---- addresses that cannot be had: one line naming the flag and the key, exit 2


@pytest.mark.parametrize(
    ("flag", "key"),
    [("--http", "server.http"), ("--openai", "server.openai"), ("--listen", "server.listen")],
)
def test_a_port_in_use_names_the_flag_and_the_key(tmp_path: Path, flag: str, key: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        addresses = {"--listen": f"unix://{tmp_path}/s.sock", "--http": "127.0.0.1:0",
                     "--openai": "127.0.0.1:0"} | {flag: f"127.0.0.1:{port}"}  # fmt: skip
        result = _serve(*[part for pair in addresses.items() for part in pair])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("sluice:")]
    assert f"127.0.0.1:{port} is already in use" in line
    assert flag in line
    assert key in line


def test_a_live_unix_socket_is_not_taken_over(start_daemon) -> None:  # type: ignore[no-untyped-def]
    first: Daemon = start_daemon()
    result = _serve("--listen", first.address, "--http", "127.0.0.1:0", "--openai", "127.0.0.1:0")
    assert result.returncode == 2, result.stderr
    assert "is in use" in result.stderr
    assert "--listen" in result.stderr
    assert "server.listen" in result.stderr
    assert first.socket.is_socket(), "the live daemon's socket was not unlinked"
    # A new channel: the first daemon still answers on its path.
    with grpc.insecure_channel(first.address) as channel:
        assert sluice_pb2_grpc.SluiceStub(channel).GetStats(pb.GetStatsRequest(), timeout=5).version


def test_a_stale_unix_socket_is_replaced(start_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # What a SIGKILLed daemon leaves behind: a socket file nobody listens on.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "s.sock"))
    stale.close()
    assert (tmp_path / "s.sock").is_socket()
    daemon: Daemon = start_daemon(workdir=tmp_path)
    assert daemon.stub().GetStats(pb.GetStatsRequest(), timeout=5).version
