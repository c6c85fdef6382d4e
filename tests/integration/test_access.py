"""Who may call the daemon, over real sockets: socket mode and group, bearer tokens on TCP."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from pathlib import Path

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
def token_daemon(start_daemon, tmp_path: Path) -> Daemon:  # type: ignore[no-untyped-def]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
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
