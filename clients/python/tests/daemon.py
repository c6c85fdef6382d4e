"""Starts the real Sluice daemon on a unix socket for the tests (the one helper for this suite)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LAUNCHER = REPO / "clients" / "testdata" / "sluice_under_test.py"
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class RunningDaemon:
    target: str  # unix:///…/sluice.sock
    ready: dict[str, object]
    workdir: Path


@contextmanager
def running_daemon() -> Iterator[RunningDaemon]:
    python = os.environ.get("SLUICE_PYTHON", str(REPO / ".venv" / "bin" / "python"))
    with tempfile.TemporaryDirectory(prefix="sluice-py-") as tmp:
        workdir = Path(tmp)
        sock, ready = workdir / "sluice.sock", workdir / "ready.json"
        proc = subprocess.Popen(
            [
                python,
                str(LAUNCHER),
                "--workdir",
                tmp,
                "--",
                "--listen",
                f"unix://{sock}",
                "--ready-file",
                str(ready),
            ],
        )
        try:
            info = _wait_ready(proc, ready, workdir)
            yield RunningDaemon(f"unix://{sock}", info, workdir)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path, workdir: Path) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists():
            try:
                return json.loads(ready.read_text())  # type: ignore[no-any-return]
            except json.JSONDecodeError:
                pass  # being written; the next poll sees it whole
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    log = workdir / "daemon.log"
    text = log.read_text() if log.exists() else "(no daemon.log)"
    raise RuntimeError(f"daemon did not become ready (exit={proc.poll()}):\n{text[-4000:]}")
