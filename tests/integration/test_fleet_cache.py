"""Fleet mode's cache fill: three real daemons and a real redis-server (issue #20).

A Store on one daemon is an exact and a semantic hit on the others; an Invalidate holds
everywhere; a daemon started later catches up before it is SERVING; Redis killed under
load fails no request, and when it returns the fill resumes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import redis as redis_sync

from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import Daemon
from tests.support.fleet import eventually, fleet_config, metric, running, serving
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "How do I delete a file in Linux?"
PARAPHRASE = "How can I remove a file on Linux?"  # cosine 0.90: the verifier decides (#4)
ANSWER = "Use rm FILE."


def user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=text)


def store(daemon: Daemon, question: str, answer: str, ns: str) -> pb.StoreResponse:
    return daemon.stub().Store(
        pb.StoreRequest(
            messages=[user(question)], namespace=ns, model="gpt-4o-mini",
            answer=pb.Message(role=pb.ROLE_ASSISTANT, content=answer),
            usage=pb.Usage(input_tokens=12, output_tokens=30),
        ),
        timeout=10,
    )  # fmt: skip


def lookup(daemon: Daemon, question: str, ns: str) -> pb.LookupResponse:
    return daemon.stub().Lookup(pb.LookupRequest(messages=[user(question)], namespace=ns),
                                timeout=10)  # fmt: skip


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def pods(redis: RedisServer, prefix: str) -> Iterator[list[Daemon]]:
    daemons = [Daemon(fleet_config(redis, prefix)) for _ in range(3)]
    with running(daemons):
        yield daemons


def test_a_store_on_a_is_an_exact_and_semantic_hit_on_b_and_c(pods: list[Daemon]) -> None:
    a, b, c = pods
    stored = store(a, QUESTION, ANSWER, ns="fill")
    for other in (b, c):
        eventually(lambda o=other: lookup(o, QUESTION.lower(), "fill").hit)  # type: ignore[misc]
        exact = lookup(other, QUESTION.lower(), "fill")
        assert exact.cache.outcome == pb.CACHE_OUTCOME_EXACT
        assert exact.entry.id == stored.entry_id, "the same entry, under the same id"
        assert exact.entry.answer.content == ANSWER
        semantic = lookup(other, PARAPHRASE, "fill")
        assert semantic.hit
        assert semantic.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
        assert semantic.cache.verifier_version, "the verifier decided, as for a local entry"
    # Tenants stay apart: the same question in another namespace is a miss everywhere.
    assert not any(lookup(d, QUESTION, "other-tenant").hit for d in pods)


def test_a_lookup_never_calls_redis(pods: list[Daemon], redis: RedisServer) -> None:
    b = pods[1]
    store(pods[0], "What does ls do?", "Lists a directory.", ns="local")
    eventually(lambda: lookup(b, "What does ls do?", "local").hit)
    client = redis_sync.Redis.from_url(redis.url)
    try:
        client.config_resetstat()
        for _ in range(20):
            assert lookup(b, "what does ls do?", "local").hit  # exact
            lookup(b, "What is the meaning of life?", "local")  # a miss, embedded
        seen = {k.removeprefix("cmdstat_") for k in client.info("commandstats")}
    finally:
        client.close()
    # Only the followers' idle XREADs (and this test's own commands) reached Redis.
    assert seen <= {"xread", "config|resetstat", "info"}, seen


def test_redis_down_at_start_serves_then_catches_up(
    start_daemon: Callable[..., Daemon], start_redis: Callable[..., RedisServer]
) -> None:
    server = start_redis()
    server.kill()
    late = start_daemon(fleet_config(server, "late"))  # Redis is not there: it still serves
    assert serving(late)
    assert metric(late, "sluice_fleet_degraded") == 1
    assert any(line.get("event") == "fleet_unreachable_at_start" for line in late.log_lines())
    server.start()
    eventually(lambda: metric(late, "sluice_fleet_degraded") == 0, timeout=20)
    other = start_daemon(fleet_config(server, "late"))
    store(other, "Which port does HTTPS use?", "443.", ns="late")
    eventually(lambda: lookup(late, "Which port does HTTPS use?", "late").hit)


def test_invalidate_on_c_removes_the_entry_everywhere(pods: list[Daemon]) -> None:
    a, b, c = pods
    one = store(a, "What is the capital of France?", "Paris.", ns="inval")
    two = store(b, "What is the boiling point of water?", "100 °C at sea level.", ns="inval")
    eventually(lambda: lookup(c, "What is the capital of France?", "inval").hit)
    eventually(lambda: lookup(c, "What is the boiling point of water?", "inval").hit)
    assert c.stub().Invalidate(pb.InvalidateRequest(entry_id=one.entry_id), timeout=5).removed
    eventually(lambda: not any(lookup(d, "What is the capital of France?", "inval").hit
                               for d in pods))  # fmt: skip
    assert all(lookup(d, "What is the boiling point of water?", "inval").hit for d in pods)
    assert c.stub().Invalidate(pb.InvalidateRequest(namespace="inval"), timeout=5).removed == 1
    eventually(lambda: not any(lookup(d, "What is the boiling point of water?", "inval").hit
                               for d in pods))  # fmt: skip
    del two


def test_a_cold_daemon_catches_up_before_serving(
    pods: list[Daemon], redis: RedisServer, prefix: str
) -> None:
    a = pods[0]
    questions = [f"What is the square root of {n}?" for n in range(20)]
    for q in questions:
        store(a, q, f"the answer to {q}", ns="cold")
    cold = Daemon(fleet_config(redis, prefix))
    try:
        cold.start()
        # Ready means caught up: every entry is there on the first lookup, none polled.
        assert all(lookup(cold, q, "cold").hit for q in questions)
        assert any(line.get("event") == "fleet_cache_caught_up" for line in cold.log_lines())
    finally:
        cold.cleanup()


def test_wrong_password_is_a_clear_error_at_start(
    start_redis: Callable[..., RedisServer], start_daemon: Callable[..., Daemon]
) -> None:
    server = start_redis(password="right-7c1e")
    wrong = server.password_file("wrong-93aa")
    config = fleet_config(server, "pw", password_file=str(wrong))
    daemon = start_daemon(config, wait=False)
    assert daemon.proc is not None
    assert daemon.proc.wait(60) == 2
    log = daemon.log()
    assert "fleet.password_file" in log
    assert "refused the password" in log
    assert "wrong-93aa" not in log
    assert "right-7c1e" not in log


def test_redis_killed_under_load_then_restarted(pods: list[Daemon], redis: RedisServer) -> None:
    """Last in the module: it kills the shared Redis (its data goes with it)."""
    a, b, _ = pods
    failures: list[str] = []

    def one(i: int) -> None:
        daemon = pods[i % 3]
        try:
            if i % 4 == 0:
                store(daemon, f"load question {i}", f"load answer {i}", ns="load")
            else:
                lookup(daemon, f"load question {i - i % 4}", ns="load")
        except grpc.RpcError as exc:
            failures.append(f"{exc.code()}: {exc.details()}")

    with ThreadPoolExecutor(16) as pool:
        first = [pool.submit(one, i) for i in range(200)]
        time.sleep(0.2)
        redis.kill()
        rest = [pool.submit(one, i) for i in range(200, 600)]
        for f in first + rest:
            f.result()
    assert failures == []
    for d in pods:  # the follower's XREAD notices at once, whatever the load did
        eventually(lambda d=d: metric(d, "sluice_fleet_degraded") == 1)  # type: ignore[misc]
        assert serving(d)
        assert any(line.get("event") == "degraded: fleet" for line in d.log_lines())
    # Local state keeps serving: what a pod stored while Redis was away is a hit there.
    store(a, "asked while redis was down", "local answer", ns="load")
    assert lookup(a, "asked while redis was down", "load").hit
    redis.start()
    for d in pods:
        eventually(lambda d=d: metric(d, "sluice_fleet_degraded") == 0, timeout=20)  # type: ignore[misc]
    # The fill resumes: what was stored during the outage (the outbox) and what is stored now.
    eventually(lambda: lookup(b, "asked while redis was down", "load").hit)
    store(a, "asked after redis came back", "fresh answer", ns="load")
    eventually(lambda: lookup(b, "asked after redis came back", "load").hit)
