"""The real daemon process over gRPC: health, Embed, bad input, graceful stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration


def _health(daemon: Daemon, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(daemon.channel())
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def test_health_serving_for_overall_and_service_name(shared_daemon: Daemon) -> None:
    assert _health(shared_daemon) == health_pb2.HealthCheckResponse.SERVING
    assert _health(shared_daemon, "sluice.v1.Sluice") == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(shared_daemon: Daemon) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(shared_daemon.channel())
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"sluice.v1.Sluice", "grpc.health.v1.Health"} <= names


def test_embed_returns_normalised_vectors_in_order(shared_daemon: Daemon) -> None:
    texts = ["How do I delete a file in Linux?", "How can I remove a file on Linux?", "Bonjour"]
    response = shared_daemon.stub().Embed(pb.EmbedRequest(texts=texts), timeout=10)
    assert response.dimensions == 384
    assert response.max_tokens == 256
    vectors = np.array([e.values for e in response.embeddings])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # The paraphrases are closer to each other than to the French greeting.
    assert vectors[0] @ vectors[1] > 0.85 > vectors[0] @ vectors[2]


def test_embed_reports_truncation(shared_daemon: Daemon) -> None:
    long_text = "word " * 600
    response = shared_daemon.stub().Embed(pb.EmbedRequest(texts=[long_text, "short"]), timeout=10)
    assert response.embeddings[0].truncated
    assert response.embeddings[0].tokens == 256
    assert not response.embeddings[1].truncated


@pytest.mark.parametrize(
    ("request_", "code", "fragment"),
    [
        (pb.EmbedRequest(), grpc.StatusCode.INVALID_ARGUMENT, "texts: at least one"),
        (pb.EmbedRequest(texts=["ok", " "]), grpc.StatusCode.INVALID_ARGUMENT, "texts[1]"),
        (pb.EmbedRequest(texts=["a"] * 5000), grpc.StatusCode.RESOURCE_EXHAUSTED, "split"),
        (pb.EmbedRequest(texts=["x" * 100_000]), grpc.StatusCode.RESOURCE_EXHAUSTED, "texts[0]"),
        (pb.EmbedRequest(texts=["y" * 9_000_000]), grpc.StatusCode.RESOURCE_EXHAUSTED, "larger"),
    ],
)
def test_embed_bad_input_gets_a_clear_status(
    shared_daemon: Daemon, request_: pb.EmbedRequest, code: grpc.StatusCode, fragment: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        shared_daemon.stub().Embed(request_, timeout=10)
    assert info.value.code() == code
    assert fragment in info.value.details()


def test_undecodable_request_is_invalid_argument_not_internal(shared_daemon: Daemon) -> None:
    raw = shared_daemon.channel().unary_unary("/sluice.v1.Sluice/Embed")
    # Field 1 (texts) with two bytes that are not UTF-8.
    with pytest.raises(grpc.RpcError) as info:
        raw(b"\x0a\x02\xff\xfe", timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        raw(b"\x0a\x50abc", timeout=5)  # truncated message
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_http_metrics_and_healthz(shared_daemon: Daemon) -> None:
    shared_daemon.stub().Embed(pb.EmbedRequest(texts=["metrics please"]), timeout=10)
    with urllib.request.urlopen(f"{shared_daemon.http}/metrics", timeout=5) as r:
        body = r.read().decode()
    assert 'sluice_rpc_requests_total{code="OK",method="Embed"}' in body
    assert "sluice_ready 1.0" in body
    with urllib.request.urlopen(f"{shared_daemon.http}/healthz", timeout=5) as r:
        assert r.status == 200


def test_one_json_log_line_per_request_without_bodies(start_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon = start_daemon()
    secret_text = "my-private-question-7f3a"
    daemon.stub().Embed(pb.EmbedRequest(texts=[secret_text]), timeout=10)
    daemon.stop()
    lines = daemon.log_lines()
    assert all("raw" not in line for line in lines), "every log line is JSON"
    rpc_lines = [line for line in lines if line.get("event") == "rpc"]
    assert len(rpc_lines) == 1
    assert rpc_lines[0]["method"] == "Embed"
    assert rpc_lines[0]["code"] == "OK"
    assert secret_text not in daemon.log()


def test_sigterm_turns_not_serving_drains_in_flight_and_exits_zero(start_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon = start_daemon({"server": {"grace_period_s": 20}})
    stub = daemon.stub()
    results: list[object] = []
    texts = [f"sentence number {i} about draining calls" for i in range(256)]

    def slow_calls() -> None:
        # Back-to-back batches keep a call in flight when SIGTERM lands.
        for _ in range(6):
            try:
                results.append(len(stub.Embed(pb.EmbedRequest(texts=texts), timeout=60).embeddings))
            except grpc.RpcError as exc:
                results.append(exc.code())

    worker = threading.Thread(target=slow_calls)
    worker.start()
    time.sleep(0.3)
    daemon.send_signal(signal.SIGTERM)
    worker.join(60)
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 0
    # The call in flight at SIGTERM finished; later ones were refused, none failed midway.
    assert results[0] == 256
    assert all(r == 256 or r == grpc.StatusCode.UNAVAILABLE for r in results)
    events = [line.get("event") for line in daemon.log_lines()]
    assert events.index("draining") < events.index("stopped")


def test_config_error_names_the_key_and_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("cache:\n  threshold: 1.5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sluice", "serve", "--config", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cache.threshold" in proc.stderr
    check = subprocess.run(
        [sys.executable, "-m", "sluice", "check-config", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 2
    assert "cache.threshold" in check.stderr
