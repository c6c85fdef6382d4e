"""A real `redis-server` for tests: its own tmp dir, TCP port and unix socket, no persistence.

    server = RedisServer(password="s3cret").start()
    server.url          redis://127.0.0.1:PORT/0
    server.unix_url     unix:///tmp/…/redis.sock
    server.kill()       SIGKILL, as a crashed Redis (the "killed under load" test)
    RedisServer(tls=True)   TLS only on its port (rediss://), a throwaway CA in `ca_file`
    server.start()      again, same port and socket (an empty Redis, as after a crash)

`make test` installs redis-server (scripts/install-redis.sh); without it, the tests that
need it fail with the command that installs it (a skip would pass CI without them).
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

INSTALL_HINT = "redis-server not found: run scripts/install-redis.sh (make test does)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, password: str | None = None, *, tls: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(INSTALL_HINT)
        self.binary = binary
        self.password = password
        # Short: a unix socket path is limited to ~107 bytes.
        self.workdir = Path(tempfile.mkdtemp(prefix="rds-"))
        self.socket = self.workdir / "redis.sock"
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "redis.log"
        self.tls = tls
        self.ca_file = self.workdir / "ca.crt"
        if tls:
            _make_certificates(self.workdir)

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket}"

    def password_file(self, password: str | None = None) -> Path:
        """A file holding `password` (default: the server's), as fleet.password_file wants."""
        path = self.workdir / f"password-{time.monotonic_ns()}"
        path.write_text((password if password is not None else self.password or "") + "\n")
        path.chmod(0o600)
        return path

    def command(self) -> list[str]:
        port = ["--port", str(self.port)]
        if self.tls:
            port = ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no",
                    "--tls-cert-file", str(self.workdir / "server.crt"),
                    "--tls-key-file", str(self.workdir / "server.key"),
                    "--tls-ca-cert-file", str(self.ca_file)]  # fmt: skip
        cmd = [self.binary, *port, "--bind", "127.0.0.1",
               "--unixsocket", str(self.socket), "--unixsocketperm", "700",
               "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
               "--logfile", str(self.log_path), "--daemonize", "no",
               "--enable-debug-command", "local"]  # fmt: skip
        if self.password is not None:
            cmd += ["--requirepass", self.password]
        return cmd

    def start(self, timeout: float = 10.0) -> RedisServer:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server not up after {timeout}s: {self.log()}")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        """True when the server answers PING (AUTH first when it has a password)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw:
                if not self.tls:
                    return self._ping(raw)
                context = ssl.create_default_context(cafile=str(self.ca_file))
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    return self._ping(s)
        except OSError:
            return False

    def _ping(self, s: socket.socket) -> bool:
        if self.password is not None:
            s.sendall(_command("AUTH", self.password))
            s.recv(64)
        s.sendall(_command("PING"))
        return s.recv(64).startswith(b"+PONG")

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, as in a crash (no persistence: data too)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _make_certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl, one day)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "1", "-subj", "/CN=sluice-test-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext")  # fmt: skip
    for key in ("ca.key", "server.key"):
        (folder / key).chmod(0o600)


def _command(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for p in parts:
        data = p.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)
