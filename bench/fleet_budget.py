"""Fleet budgets and rate limits (issue #20): what a shared budget costs a call, and what it holds.

    .venv/bin/python -m bench.fleet_budget [--calls 2000] [--pods 3] [--callers 8]

1. Time a call waits for its admission: reserve + settle of a namespace budget, and a
   rate-limit take, against a local redis-server (TCP loopback), p50 / p99, beside the
   in-process guard of a standalone pod.
2. Redis commands and bytes per admitted call (INFO commandstats / stats deltas).
3. Overspend of one budget by N pods × C concurrent callers (in-process guards, each with
   its own Redis link, a provider call of 0–5 ms): standalone pods (each its own budget)
   against the fleet's shared one.

Starts its own redis-server (tests/support/redis.py). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis as redis_sync

from bench.common import pct, table
from sluice.cascade.budget import BudgetGuard, BudgetLimit, InMemoryBudgetGuard
from sluice.config import FleetSettings
from sluice.fleet.budget import NANO, FleetBudgetGuard
from sluice.fleet.limits import FleetRateLimits
from sluice.fleet.link import FleetLink
from sluice.resilience.ratelimit import ProviderLimit
from sluice.telemetry.metrics import Metrics
from tests.support.redis import RedisServer

LIMIT = 1.0
ESTIMATE = 0.01


def policy(limit: float = 1e9) -> InMemoryBudgetGuard:
    return InMemoryBudgetGuard({"team": BudgetLimit(limit, 3600.0)})


def link(server: RedisServer) -> FleetLink:
    settings = FleetSettings.model_validate(
        {"enabled": True, "redis_url": server.url, "command_timeout_ms": 1000}
    )
    return FleetLink(settings, Metrics(), password=None)


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:.3f} ms, p99 {pct(values, 99) * 1000:.3f} ms"


async def timed(n: int, one: Callable[[], Awaitable[None]]) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await one()
        out.append(time.perf_counter() - t0)
    return out


def counts(r: redis_sync.Redis) -> tuple[int, int, int, int]:
    """Commands (those inside scripts included), round trips (scripts), bytes in and out."""
    stats = r.info("commandstats")
    calls = sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")
    scripts = sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_eval"))
    net = r.info("stats")
    into, out = int(net["total_net_input_bytes"]), int(net["total_net_output_bytes"])
    return calls, scripts, into, out


def per_call(before: tuple[int, ...], after: tuple[int, ...], n: int) -> str:
    calls, scripts, into, out = (a - b for a, b in zip(after, before, strict=True))
    return (
        f"{scripts / n:.2f} round trips (EVALSHA), {calls / n:.2f} commands with those in "
        f"the scripts, {into / n:.0f} B in, {out / n:.0f} B out"
    )


async def admission(server: RedisServer, n: int) -> list[tuple[str, str]]:
    fleet_link = link(server)
    await fleet_link.start()
    fleet = FleetBudgetGuard(fleet_link, policy(), prefix="b", expected_replicas=3)
    local = policy()
    limits = FleetRateLimits(
        fleet_link, {"oa": ProviderLimit(rpm=1e9, tpm=1e12)}, prefix="b",
        expected_replicas=3, deployments=[("oa", "gpt-4o")],
    )  # fmt: skip

    def cycle(guard: BudgetGuard) -> Callable[[], Awaitable[None]]:
        async def one() -> None:
            hold = await guard.reserve("team", ESTIMATE)
            guard.settle(hold, ESTIMATE / 2)

        return one

    async def take() -> None:
        await limits.acquire("oa", "gpt-4o", 500)

    r = redis_sync.Redis.from_url(server.url)
    rows = [("standalone guard (in process)", ms(await timed(n, cycle(local))))]
    before = counts(r)
    rows.append(("fleet reserve (+ settle, background)", ms(await timed(n, cycle(fleet)))))
    await fleet.aclose()
    rows.append(("  Redis per budgeted call", per_call(before, counts(r), n)))
    before = counts(r)
    rows.append(("fleet rate-limit take (rpm + tpm)", ms(await timed(n, take))))
    rows.append(("  Redis per rate-limited call", per_call(before, counts(r), n)))
    r.close()
    await limits.aclose()
    await fleet_link.close()
    return rows


async def overspend(
    server: RedisServer, pods: int, callers: int, seed: int
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for fleet_on in (False, True):
        links = [link(server) for _ in range(pods)]
        prefix = f"o{int(fleet_on)}{seed}"
        guards: list[Any] = [
            FleetBudgetGuard(x, policy(LIMIT), prefix=prefix, expected_replicas=pods)
            if fleet_on else policy(LIMIT)
            for x in links
        ]  # fmt: skip
        spent = [0.0] * pods

        async def caller(i: int, guards: list[Any] = guards, spent: list[float] = spent) -> None:
            g = guards[i]
            while True:
                hold = await g.reserve("team", ESTIMATE)
                if not hold.granted:
                    return
                await asyncio.sleep(rng.random() * 0.005)  # the provider call
                cost = ESTIMATE * rng.uniform(0.5, 1.0)
                g.settle(hold, cost)
                spent[i] += cost

        await asyncio.gather(*(caller(i) for i in range(pods) for _ in range(callers)))
        for g in guards:
            if fleet_on:
                await g.aclose()
        for x in links:
            await x.close()
        total = sum(spent)
        name = "fleet (shared in Redis)" if fleet_on else "standalone (each pod its own)"
        rows.append((name, f"spent ${total:.3f} of ${LIMIT:.2f}: over by "
                     f"${max(total - LIMIT, 0):.3f} (one call ≤ ${ESTIMATE})"))  # fmt: skip
    return rows


async def run(args: argparse.Namespace) -> None:
    server = RedisServer().start()
    try:
        table(f"Admission per call, {args.calls} calls each", await admission(server, args.calls))
        table(
            f"One ${LIMIT} budget, {args.pods} pods × {args.callers} concurrent callers",
            await overspend(server, args.pods, args.callers, seed=1),
        )
        counter = redis_sync.Redis.from_url(server.url)
        keys = list(counter.scan_iter(match="o1*:budget:*"))
        total = sum(int(counter.get(k) or 0) for k in keys) / NANO
        print(f"  (the fleet's counter in Redis: ${total:.3f})")
        counter.close()
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pods", type=int, default=3)
    parser.add_argument("--callers", type=int, default=8)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
