"""FleetLearning's rounds against a real redis-server, without daemons (fleet/learning.py):
a pod that lost its last updates in a crash takes them back from its own entry, entries of
another shape or meaning are refused (counted, logged once), and Redis down costs nothing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from structlog.testing import capture_logs

from sluice.config import FleetSettings
from sluice.fleet.learning import FleetLearning
from sluice.fleet.link import FleetLink
from sluice.routing.bandit import LinUCB
from sluice.telemetry.metrics import Metrics
from tests.support.redis import RedisServer

pytestmark = pytest.mark.integration

ARMS, DIM, TAG = 3, 6, "model|cheap/medium/premium"


def updates(seed: int, n: int) -> list[tuple[int, np.ndarray, float]]:
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(0, ARMS)), np.append(rng.normal(size=DIM - 1), 1.0),
             float(rng.uniform(0, 1))) for _ in range(n)]  # fmt: skip


def model(
    *batches: list[tuple[int, np.ndarray, float]], arms: int = ARMS, tag: str = TAG
) -> LinUCB:
    m = LinUCB(arms, DIM, tag=tag)
    for batch in batches:
        for arm, x, r in batch:
            m.update(arm, x, r)
    return m


def link(redis: RedisServer, metrics: Metrics) -> FleetLink:
    settings = FleetSettings.model_validate(
        {"enabled": True, "redis_url": redis.url, "command_timeout_ms": 200}
    )
    return FleetLink(settings, metrics, password=None)


def learning(link_: FleetLink, metrics: Metrics, pod: str) -> FleetLearning:
    return FleetLearning(link_, metrics, prefix="t", pod=pod, interval_s=60)


async def test_a_pod_restarted_from_an_older_snapshot_takes_back_its_updates(
    redis_server: RedisServer,
) -> None:
    metrics = Metrics()
    first, after_snapshot = updates(1, 20), updates(2, 10)
    lk = link(redis_server, metrics)
    try:
        assert await lk.start()
        before = learning(lk, metrics, "pod-a")
        before.attach({"online": model(first, after_snapshot)})
        await before.sync()  # the entry holds all 30 updates
        # A crash: the snapshot held the first 20; the same pod id comes back.
        restored = model(first)
        again = learning(lk, metrics, "pod-a")
        again.attach({"online": restored})
        with capture_logs() as logs:
            await again.sync()
        assert restored.contribution().total == 30
        np.testing.assert_allclose(restored.a_inv, model(first, after_snapshot).a_inv,
                                   rtol=1e-4, atol=1e-6)  # fmt: skip
        assert [x["updates"] for x in logs if x["event"] == "fleet_bandit_own_recovered"] == [10]
    finally:
        await lk.close()


async def test_entries_of_another_shape_or_meaning_are_refused(redis_server: RedisServer) -> None:
    metrics = Metrics()
    lk = link(redis_server, metrics)
    try:
        assert await lk.start()
        for pod, other in (("pod-b", model(updates(3, 5), arms=ARMS + 1)),
                           ("pod-c", model(updates(4, 5), tag="other-model|a/b/c"))):  # fmt: skip
            writer = learning(lk, Metrics(), pod)  # the writers read too: counted apart
            writer.attach({"online": other})
            await writer.sync()
        mine = model(updates(5, 5))
        a_inv = mine.a_inv.copy()
        reader = learning(lk, metrics, "pod-a")
        reader.attach({"online": mine})
        with capture_logs() as logs:
            await reader.sync()
            await reader.sync()
        np.testing.assert_array_equal(mine.a_inv, a_inv)
        refused = [(x["pod"], x["reason"]) for x in logs if x["event"] == "fleet_bandit_refused"]
        assert sorted(refused) == [("pod-b", "shape"), ("pod-c", "tag")], "logged once each"
        for reason in ("shape", "tag"):
            labels = {"policy": "online", "reason": reason}
            assert metrics.registry.get_sample_value("sluice_fleet_bandit_refused_total",
                                                     labels) == 1  # fmt: skip
    finally:
        await lk.close()


async def test_redis_down_the_pod_learns_alone_and_writes_when_it_returns(
    redis_server: RedisServer,
) -> None:
    metrics = Metrics()
    lk = link(redis_server, metrics)
    try:
        assert await lk.start()
        mine = model(updates(6, 5))
        pod = learning(lk, metrics, "pod-a")
        pod.attach({"online": mine})
        await pod.sync()
        redis_server.kill()
        for arm, x, r in updates(7, 5):
            mine.update(arm, x, r)
        await pod.sync()  # gives up at once (or degrades the link): never raises
        await pod.sync()
        assert lk.degraded
        assert mine.contribution().total == 10
        redis_server.start()
        async with asyncio.timeout(10):
            while lk.degraded:  # noqa: ASYNC110 - polls state no event announces
                await asyncio.sleep(0.02)
        await pod.sync()
        reader = learning(lk, metrics, "pod-b")
        theirs = model()
        reader.attach({"online": theirs})
        await reader.sync()
        assert theirs.pulls.sum() == 10, "all of it, the updates made while Redis was away too"
    finally:
        await lk.close()
