"""Start the real daemon as a process, on a unix socket, and talk to it over gRPC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import yaml

from sluice.v1 import sluice_pb2_grpc

REPO = Path(__file__).resolve().parents[2]


class Daemon:
    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        # Short path: unix socket paths are limited to ~107 bytes.
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="sluice-"))
        self._own_workdir = workdir is None
        self.socket = self.workdir / "s.sock"
        self.ready_file = self.workdir / "ready.json"
        self.log_path = self.workdir / "daemon.log"
        self.config = config
        self.args = args
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._channel: grpc.Channel | None = None

    @property
    def address(self) -> str:
        return f"unix://{self.socket}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "sluice", "serve", "--listen", self.address,
               "--http", "127.0.0.1:0", "--openai", "127.0.0.1:0",
               "--ready-file", str(self.ready_file)]  # fmt: skip
        if self.config is not None:
            path = self.workdir / "config.yaml"
            path.write_text(yaml.safe_dump(self.config))
            cmd += ["--config", str(path)]
        return cmd + list(self.args)

    def start(self, wait: bool = True, timeout: float = 90.0) -> Daemon:
        self.ready_file.unlink(missing_ok=True)
        env = {**os.environ, **(self.env or {})}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"daemon not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.02)
        self.info = json.loads(self.ready_file.read_text())

    @property
    def http(self) -> str:
        """The metrics listener (`/metrics`, `/healthz`), e.g. http://127.0.0.1:PORT."""
        return f"http://{self.info['http']}"

    @property
    def openai(self) -> str:
        """The OpenAI-compatible front's origin; SDKs take `f"{daemon.openai}/v1"`."""
        return f"http://{self.info['openai']}"

    def metrics(self) -> str:
        """The Prometheus exposition of the HTTP port."""
        with urllib.request.urlopen(f"{self.http}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"raw": line})
        return out

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.address)
        return self._channel

    def stub(self) -> sluice_pb2_grpc.SluiceStub:
        return sluice_pb2_grpc.SluiceStub(self.channel())

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
