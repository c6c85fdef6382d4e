"""Budgets, rate-limit holds and provider health shared by three real daemons over Redis.

Each test starts a real redis-server (tests/support/redis.py), the fake provider (its real
wire protocols) and three daemons in fleet mode. Figures are printed; the assertions are
on correctness only (spend bounds, calls not sent, no failed request).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
import redis

from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# USD per million tokens: one call (a short prompt, 40 tokens out) costs about $0.004.
PRICE = {"input": 10.0, "output": 100.0}
ANSWER = " ".join(["harbour"] * 200)
# The fleet's learning of another pod's marks is one poll (fleet/health.py POLL_S = 0.5 s).
POLL_WAIT_S = 1.5


def config(fake: FakeProvider, redis: RedisServer, prefix: str, **extra: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "providers": fake.providers(),
        "tiers": [{"name": "main", "timeout_s": 10.0, "max_output_tokens": 40,
                   "deployments": [{"provider": "oa", "model": "gpt-4o"},
                                   {"provider": "an", "model": "claude-3-haiku"}]}],
        "prices": {"gpt-4o": PRICE, "claude-3-haiku": PRICE},
        "cache": {"enabled": False},
        "cascade": {"retry": {"max_retries": 0},
                    "breaker": {"failure_rate": 0.5, "minimum_calls": 3, "window_s": 30,
                                "cooldown_s": 30.0}},
        "fleet": {"enabled": True, "redis_url": redis.url, "key_prefix": prefix,
                  "expected_replicas": 3, "command_timeout_ms": 250},
    }  # fmt: skip
    conf.update(extra)
    return conf


@pytest.fixture
def fleet(
    start_daemon: Callable[..., Daemon], fake_provider: FakeProvider, redis_server: RedisServer
) -> Callable[..., list[Daemon]]:
    def start(**extra: Any) -> list[Daemon]:
        prefix = f"f{uuid.uuid4().hex[:6]}"
        conf = config(fake_provider, redis_server, prefix, **extra)
        pods = [start_daemon(conf, wait=False) for _ in range(3)]
        for pod in pods:
            pod.wait_ready()
        return pods

    return start


def ask(namespace: str = "default") -> pb.CompleteRequest:
    question = f"Tell me about harbours, please ({uuid.uuid4().int % 10**8:08d})"
    return pb.CompleteRequest(
        namespace=namespace, messages=[pb.Message(role=pb.ROLE_USER, content=question)]
    )


def requests(pod: Daemon) -> list[dict[str, Any]]:
    return [x for x in pod.log_lines() if x.get("event") == "request"]


def served_by(response: pb.CompleteResponse) -> str:
    return response.served_by.model if response.HasField("served_by") else ""


def load(
    pods: list[Daemon], namespace: str, per_pod: int, until: Callable[[], bool]
) -> dict[str, int]:
    """`per_pod` callers on each daemon, each asking until refused or `until()`; outcomes."""
    outcomes: dict[str, int] = {}

    def caller(pod: Daemon) -> None:
        stub = pod.stub()
        for _ in range(200):
            try:
                stub.Complete(ask(namespace), timeout=20)
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name
            outcomes[code] = outcomes.get(code, 0) + 1
            if code != "OK" or until():
                return

    with ThreadPoolExecutor(len(pods) * per_pod) as pool:
        for _ in pool.map(caller, [p for p in pods for _ in range(per_pod)]):
            pass
    return outcomes


def test_three_daemons_overspend_a_shared_budget_by_at_most_one_request_each(
    fleet: Callable[..., list[Daemon]], fake_provider: FakeProvider
) -> None:
    fake_provider.model("gpt-4o", answer=ANSWER)
    fake_provider.fault(kind="latency", latency_ms=30)  # calls overlap across pods
    limit = 0.2
    pods = fleet(budgets={"namespaces": {"tight": {"limit_usd": limit, "window_s": 3600}}})
    outcomes = load(pods, "tight", per_pod=4, until=lambda: False)
    lines = [x for pod in pods for x in requests(pod)]
    spent = sum(x["cost_usd"] for x in lines)
    largest = max(x["cost_usd"] for x in lines)
    per_pod = [round(sum(x["cost_usd"] for x in requests(p)), 4) for p in pods]
    print(f"\n3 daemons × 4 callers on a ${limit} budget: {outcomes}; spent ${spent:.4f} "
          f"(per daemon {per_pod}), over by ${max(spent - limit, 0):.4f}; "
          f"one request ≤ ${largest:.4f}")  # fmt: skip
    assert set(outcomes) == {"OK", "RESOURCE_EXHAUSTED"}
    assert outcomes["RESOURCE_EXHAUSTED"] == 12  # every caller ended on a refusal
    assert limit <= spent <= limit + 3 * largest


def test_redis_killed_under_load_fails_no_request_and_keeps_a_local_share(
    fleet: Callable[..., list[Daemon]], fake_provider: FakeProvider, redis_server: RedisServer
) -> None:
    fake_provider.model("gpt-4o", answer=ANSWER)
    fake_provider.fault(kind="latency", latency_ms=20)
    limit = 0.3
    pods = fleet(budgets={"namespaces": {"tight": {"limit_usd": limit, "window_s": 3600}}})
    started = time.monotonic()
    killed: list[float] = []

    def kill_after_a_second() -> bool:
        if not killed and time.monotonic() - started > 1.0:
            killed.append(time.monotonic())
            redis_server.kill()
        return time.monotonic() - started > 4.0

    outcomes = load(pods, "default", per_pod=3, until=kill_after_a_second)
    print(f"\nRedis killed after 1 s of 3 daemons × 3 callers (no budget): {outcomes}")
    assert killed
    assert set(outcomes) == {"OK"}  # 0 failed requests
    for pod in pods:
        assert "sluice_fleet_degraded 1.0" in pod.metrics()
    # Redis still down: each daemon keeps to its share of the tight budget (limit / 3).
    refused = load(pods, "tight", per_pod=2, until=lambda: False)
    assert set(refused) == {"OK", "RESOURCE_EXHAUSTED"}
    shares = []
    for pod in pods:
        lines = [x for x in requests(pod) if x["namespace"] == "tight"]
        spent = sum(x["cost_usd"] for x in lines)
        largest = max(x["cost_usd"] for x in lines)
        shares.append(round(spent, 4))
        assert spent <= limit / 3 + 2 * largest  # its share; one request per caller over
    print(f"Redis down: per-daemon spend of the ${limit} budget {shares} (share ${limit / 3:.3f})")
    # Redis back (empty, as after a crash): each daemon adds what it spent meanwhile.
    redis_server.start()
    deadline = time.monotonic() + 30
    client = redis.Redis.from_url(redis_server.url)
    keys: list[bytes] = []
    while time.monotonic() < deadline:
        keys = list(client.scan_iter(match="*:budget:tight:*"))
        total = sum(int(client.get(k) or 0) for k in keys) / 1e9
        if total >= sum(shares) - 1e-6:
            break
        time.sleep(0.1)
    client.close()
    print(f"Redis restarted: the fleet's counter holds ${total:.4f} (the daemons spent "
          f"${sum(shares):.4f})")  # fmt: skip
    assert len(keys) == 1
    assert total == pytest.approx(sum(shares), abs=1e-4)


def test_a_429_on_one_daemon_makes_the_others_skip_that_model(
    fleet: Callable[..., list[Daemon]], fake_provider: FakeProvider
) -> None:
    a, b, c = fleet()
    fake_provider.fault(kind="rate_limit", model="gpt-4o", times=1, retry_after_s=60)
    first = a.stub().Complete(ask(), timeout=20)
    assert served_by(first) == "claude-3-haiku"  # A got the 429 and fell back
    time.sleep(POLL_WAIT_S)
    for pod in (b, c, a):
        assert served_by(pod.stub().Complete(ask(), timeout=20)) == "claude-3-haiku"
    assert len(fake_provider.calls("gpt-4o")) == 1  # only A's call was ever sent
    skipped = [x for x in requests(b) if x["attempts"][0]["outcome"] == "rate_limited"]
    assert skipped[0]["attempts"][0]["error"].startswith("skipped:")


def test_a_breaker_opened_on_one_daemon_is_open_on_the_others(
    fleet: Callable[..., list[Daemon]], fake_provider: FakeProvider
) -> None:
    a, b, c = fleet()
    fake_provider.fault(kind="server_error", model="gpt-4o", status=503, times=3)
    for _ in range(3):
        assert served_by(a.stub().Complete(ask(), timeout=20)) == "claude-3-haiku"
    assert 'sluice_circuit_state{provider="oa"} 2.0' in a.metrics()  # open on A
    time.sleep(POLL_WAIT_S)
    for pod in (b, c):
        response = pod.stub().Complete(ask(), timeout=20)
        assert served_by(response) == "claude-3-haiku"
        (line,) = requests(pod)
        assert line["attempts"][0]["outcome"] == "circuit_open"
        # Its own breaker never saw a failure: the fleet's mark, not local evidence.
        assert 'sluice_circuit_state{provider="oa"} 0.0' in pod.metrics()
    assert len(fake_provider.calls("gpt-4o")) == 3  # only A's failed calls
