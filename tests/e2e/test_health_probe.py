"""grpc_health_probe (the binary Kubernetes runs) against the real daemon."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import REPO, Daemon

pytestmark = pytest.mark.e2e

PROBE = shutil.which("grpc_health_probe") or str(REPO / ".venv" / "bin" / "grpc_health_probe")
NOT_SERVING = 4  # grpc_health_probe's exit code for a NOT_SERVING answer


def probe(address: str, service: str = "") -> int:
    cmd = [PROBE, f"-addr={address}", "-connect-timeout=500ms", "-rpc-timeout=500ms"]
    if service:
        cmd.append(f"-service={service}")
    return subprocess.run(cmd, capture_output=True, timeout=10, check=False).returncode


def _embedded(daemon: Daemon) -> float:
    """The daemon's count of texts embedded (sluice_embed_texts_total)."""
    for line in daemon.metrics().splitlines():
        if line.startswith("sluice_embed_texts_total"):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture(autouse=True)
def _needs_probe() -> None:
    if not Path(PROBE).exists():
        pytest.fail(f"grpc_health_probe not found at {PROBE}: run `make install`")


def test_probe_fails_while_loading_then_passes_then_fails_after_sigterm(start_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon: Daemon = start_daemon({"server": {"grace_period_s": 20}}, wait=False)
    codes: list[int] = [probe(daemon.address)]  # nothing listening yet
    deadline = time.monotonic() + 90
    # The socket appears when the server listens, before the model loads.
    while not daemon.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    while time.monotonic() < deadline:
        codes.append(probe(daemon.address))
        if codes[-1] == 0:
            break
    assert codes[-1] == 0, f"never SERVING: {codes}\n{daemon.log()}"
    assert any(c != 0 for c in codes[:-1]), "the probe failed before the model was loaded"
    assert NOT_SERVING in codes, f"health said NOT_SERVING while loading: {codes}"
    daemon.wait_ready()
    assert probe(daemon.address, "sluice.v1.Sluice") == 0

    # SIGTERM while a call is in flight: the probe fails at once, the call completes.
    stub = daemon.stub()
    finished: list[int] = []
    texts = [f"a sentence to keep the daemon busy {i}" for i in range(256)]

    def call() -> None:
        for _ in range(4):
            try:
                finished.append(
                    len(stub.Embed(pb.EmbedRequest(texts=texts), timeout=60).embeddings)
                )
            except grpc.RpcError:
                break

    worker = threading.Thread(target=call)
    worker.start()
    # SIGTERM once the daemon has the call: a fixed sleep raced the client's send on a
    # loaded CI machine (the call then arrived after SIGTERM and was refused, as it should).
    until = time.monotonic() + 30
    while _embedded(daemon) == 0 and time.monotonic() < until:
        time.sleep(0.01)
    daemon.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    assert probe(daemon.address) != 0
    worker.join(60)
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 0
    assert finished
    assert finished[0] == 256
    assert probe(daemon.address) != 0


def test_probe_over_loopback_tcp(start_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon: Daemon = start_daemon(args=("--listen", "127.0.0.1:0"))
    tcp = next(a for a in daemon.info["grpc"] if not a.startswith("unix://"))
    assert probe(tcp) == 0
    assert probe(tcp, "no.such.Service") != 0
