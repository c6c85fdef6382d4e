"""kill -9 under write load, then restart: it starts, serves the last snapshot, SERVING.

3 rounds in the normal suite; `SLUICE_NIGHTLY=1` runs 20. Each round kills the daemon
while a writer stores entries and snapshots land every 0.2 s, then checks every entry
of the snapshot on disk (the last complete one) is served by the restarted daemon.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration

ROUNDS = 20 if os.environ.get("SLUICE_NIGHTLY") == "1" else 3


def _config(snaps: Path) -> dict[str, object]:
    return {"cache": {"snapshot_dir": str(snaps), "snapshot_interval_s": 0.2}}


def _writer(daemon: Daemon, known: dict[str, str], stop: threading.Event) -> None:
    stub = daemon.stub()
    while not stop.is_set():
        question = f"crash question {uuid.uuid4().int % 10**12:012d}"
        try:
            response = stub.Store(
                pb.StoreRequest(
                    messages=[pb.Message(role=pb.ROLE_USER, content=question)],
                    answer=pb.Message(role=pb.ROLE_ASSISTANT, content=f"answer {question}"),
                ),
                timeout=5,
            )
        except (grpc.RpcError, ValueError):
            # Killed; or Daemon.stop() closed the channel under us ("closed channel").
            return
        known[response.entry_id] = question


def _snapshot_ids(snaps: Path) -> list[str]:
    folder = snaps / (snaps / "CURRENT").read_text().strip()
    text = (folder / "entries.jsonl").read_text()
    return [json.loads(line)[0] for line in text.splitlines() if line]


def _lookup(daemon: Daemon, question: str) -> pb.LookupResponse:
    message = pb.Message(role=pb.ROLE_USER, content=question)
    return daemon.stub().Lookup(pb.LookupRequest(messages=[message]), timeout=5)


def test_kill_9_under_write_load_then_restart(tmp_path: Path) -> None:
    snaps = tmp_path / "snap"
    known: dict[str, str] = {}
    expected: list[str] = []  # the entries of the snapshot the last kill left behind
    failed_starts = served = 0
    start_s: list[float] = []
    for round_ in range(ROUNDS + 1):
        daemon = Daemon(_config(snaps))
        started = time.monotonic()
        try:
            daemon.start()
        except (RuntimeError, TimeoutError):
            failed_starts += 1
            daemon.cleanup()
            continue
        start_s.append(time.monotonic() - started)
        health = health_pb2_grpc.HealthStub(daemon.channel())
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        for entry_id in expected:
            hit = _lookup(daemon, known[entry_id])
            assert hit.hit, f"round {round_}: entry {entry_id} of the last snapshot is gone"
            assert hit.entry.id == entry_id
            served += 1
        if round_ == ROUNDS:
            daemon.cleanup()
            break
        stop = threading.Event()
        writer = threading.Thread(target=_writer, args=(daemon, known, stop))
        writer.start()
        time.sleep(1.0)  # several snapshots while the writer runs
        daemon.stop(signal.SIGKILL)
        stop.set()
        writer.join(10)
        daemon.cleanup()
        expected = _snapshot_ids(snaps)
        assert expected, "no snapshot was written under load"
        assert set(expected) <= set(known)
    print(f"crash: {ROUNDS} kill -9 rounds, {failed_starts} failed starts, {served} entries "
          f"served after restart, start {min(start_s):.1f}–{max(start_s):.1f} s")  # fmt: skip
    assert failed_starts == 0
