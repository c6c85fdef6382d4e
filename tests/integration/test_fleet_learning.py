"""Shared bandit learning: two real daemons and a real redis-server (issue #20).

Feedback sent only to daemon A changes what daemon B decides for the same question; with
Redis killed, A still takes Feedback and B keeps its view, and when Redis returns (empty)
B catches up; A restarted with its snapshot folder is still one pod, not two; a reload
that rebuilds A's router keeps A learning with the fleet.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
import yaml

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider
from tests.support.fleet import eventually, metric, running
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROBE = "What is the capital of France?"  # never sent to A: only asked of both with Route
PODS = 'sluice_fleet_bandit_pods{policy="online"}'


def user(text: str) -> list[pb.Message]:
    return [pb.Message(role=pb.ROLE_USER, content=text)]


def route(daemon: Daemon) -> pb.RouteDecision:
    decision: pb.RouteDecision = daemon.stub().Route(
        pb.RouteRequest(messages=user(PROBE)), timeout=5
    )
    return decision


def same(x: pb.RouteDecision, y: pb.RouteDecision) -> bool:
    """The same decision: the tier, and the expected reward (B holds A's sums in float32)."""
    return x.tier == y.tier and abs(x.score - y.score) < 1e-3


def thumbs_up(daemon: Daemon, question: str) -> None:
    stub = daemon.stub()
    answer = stub.Complete(pb.CompleteRequest(messages=user(question)), timeout=15)
    assert answer.route.policy == "bandit"
    reply = stub.Feedback(
        pb.FeedbackRequest(request_id=answer.request_id, kind=pb.FEEDBACK_KIND_THUMBS_UP),
        timeout=5,
    )
    assert reply.policy == "bandit"


def events(daemon: Daemon, name: str) -> list[dict[str, Any]]:
    return [x for x in daemon.log_lines() if x.get("event") == name]


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def pods(
    redis: RedisServer, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Daemon]]:
    prefix = f"t{uuid.uuid4().hex[:8]}"

    def config(snapshots: Path | None) -> dict[str, Any]:
        cache = {"snapshot_dir": str(snapshots)} if snapshots is not None else {}
        out = cascade_config(fake, cache=cache)
        out["routing"] = {
            "policies": {"online": {"kind": "bandit", "alpha": 0.5, "cost_weight": 0.3}},
            "default": {"policy": "online"},
        }
        out["fleet"] = {"enabled": True, "redis_url": redis.url, "key_prefix": prefix,
                        "bandit_sync_interval_s": 0.2}  # fmt: skip
        return out

    # A keeps a snapshot folder (its pod id and its own learning survive a restart).
    daemons = [Daemon(config(tmp_path_factory.mktemp("snap-a"))), Daemon(config(None))]
    with running(daemons):
        yield daemons


def test_feedback_on_a_changes_what_b_decides(pods: list[Daemon]) -> None:
    a, b = pods
    before = route(b)
    assert (before.tier, before.score) == ("cheap", 0.0), "nothing learned: the cheapest"
    thumbs_up(a, "How many legs has a spider?")
    learned = route(a)
    assert not same(learned, before), "A learned from its Feedback"
    eventually(lambda: same(route(b), learned))
    assert metric(b, PODS) == 1
    merged = events(b, "fleet_bandit_merged")
    assert merged
    assert merged[0]["policy"] == "online"


def test_redis_down_then_back_b_catches_up(pods: list[Daemon], redis: RedisServer) -> None:
    a, b = pods
    eventually(lambda: same(route(b), route(a)))
    redis.kill()
    for i in range(3):  # Feedback is taken and learned from while Redis is away
        thumbs_up(a, f"Name a river in Europe, number {i}.")
    eventually(lambda: metric(a, "sluice_fleet_degraded") == 1)
    during = route(a)
    assert not same(route(b), during), "B cannot know yet"
    redis.start()  # empty, as after a crash: A writes its statistics again
    eventually(lambda: same(route(b), route(a)), timeout=20)
    assert same(route(a), during)
    # Lost again with nothing new learned: A's statistics are written again all the same.
    redis.restart()
    index = redis_sync.Redis(port=redis.port)
    eventually(lambda: len(index.keys("*:bandit:online:pods")) == 1, timeout=20)
    assert same(route(b), route(a))
    for daemon in (a, b):
        assert not events(daemon, "fleet_bandit_sync_failed")
        assert not [x for x in daemon.log_lines() if x.get("level") == "error"]


def test_a_restarted_pod_is_not_counted_twice(pods: list[Daemon]) -> None:
    a, b = pods
    eventually(lambda: same(route(b), route(a)))
    learned = route(a)
    pod = events(a, "fleet_learning_started")[-1]["pod"]
    assert a.stop() == 0
    a.start()
    assert events(a, "fleet_learning_started")[-1]["pod"] == pod, "the id survives"
    assert same(route(a), learned), "A's own learning came back from its snapshot"
    thumbs_up(a, "What colour is the sky on Mars?")
    eventually(lambda: same(route(b), route(a)))
    assert metric(b, PODS) == 1, "one pod, written over, not a second one"


def test_a_reload_that_rebuilds_the_router_keeps_learning_with_the_fleet(
    pods: list[Daemon],
) -> None:
    a, b = pods
    eventually(lambda: same(route(b), route(a)))
    learned = route(a).score
    path = a.workdir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["routing"]["policies"]["online"]["alpha"] = 0.4  # a new router, a new bandit
    path.write_text(yaml.safe_dump(config))
    a.send_signal(signal.SIGHUP)
    eventually(lambda: bool(events(a, "config_reloaded")))
    # The new bandit takes back this pod's learning from its entry in Redis...
    eventually(lambda: abs(route(a).score - learned) < 1e-3)
    assert events(a, "fleet_bandit_own_recovered")
    # ...and what it learns next still reaches the fleet (the widths differ: alpha).
    thumbs_up(a, "How far is the Moon?")
    now = route(a).score
    assert abs(now - learned) > 1e-3, "A learned again"
    eventually(lambda: abs(route(b).score - now) < 1e-3)


def test_a_cache_answer_judged_wrong_on_a_is_narrowed_or_removed_on_b(pods: list[Daemon]) -> None:
    a, b = pods
    stub = a.stub()

    def ask(question: str) -> pb.CompleteResponse:
        response: pb.CompleteResponse = stub.Complete(
            pb.CompleteRequest(messages=user(question)), timeout=15
        )
        return response

    def on_b(question: str) -> pb.LookupResponse:
        response: pb.LookupResponse = b.stub().Lookup(
            pb.LookupRequest(messages=user(question)), timeout=5
        )
        return response

    def thumbs_down(request_id: str) -> str:
        reply = stub.Feedback(
            pb.FeedbackRequest(request_id=request_id, kind=pb.FEEDBACK_KIND_THUMBS_DOWN),
            timeout=5,
        )
        return str(reply.policy)

    question, paraphrase = "How do I delete a file in Linux?", "How can I remove a file on Linux?"
    ask(question)
    eventually(lambda: on_b(paraphrase).cache.outcome == pb.CACHE_OUTCOME_SEMANTIC)
    hit = ask(paraphrase)
    assert hit.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
    assert thumbs_down(hit.request_id) == "cache"
    # B holds the narrowed entry too: the paraphrase is refused, the question still served.
    eventually(lambda: "Feedback marked wrong" in on_b(paraphrase).cache.reason)
    assert on_b(question).cache.outcome == pb.CACHE_OUTCOME_EXACT
    # Judged wrong for its own question, the answer leaves B as well.
    own = ask(question)
    assert own.cache.outcome == pb.CACHE_OUTCOME_EXACT
    assert thumbs_down(own.request_id) == "cache"
    eventually(lambda: on_b(question).cache.outcome != pb.CACHE_OUTCOME_EXACT)
