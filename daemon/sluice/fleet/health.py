"""Provider health shared by the fleet (a `HealthBoard`), and the poll that keeps pods' views.

    <prefix>:open:<provider>     set when a pod's breaker opens; its TTL is the cooldown

Only "open" is shared (resilience/health.py): a pod whose breaker opens writes
the mark with extend.lua (it only ever lengthens), and every pod reads the marks
each poll and refuses that provider until the mark's TTL has run out (the
breakers' `admit`). Nothing deletes a mark: a pod whose probes succeed closes
its own breaker, not the fleet's view, so no pod can keep a provider closed for
the others, and a mark outlives the cooldown it was written with by at most one
poll.

Redis unreachable: no new marks are read, the known ones run out on time, and
each pod's own breakers decide alone (as standalone).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sluice.fleet import lua
from sluice.fleet.background import Background
from sluice.fleet.link import FleetLink
from sluice.telemetry.logging import get_logger

log = get_logger("sluice.fleet")

# How often a pod reads the fleet's marks and budget counters: how late it learns of
# another pod's open breaker or 429, at most (one pipelined round trip each).
POLL_S = 0.5


class FleetHealth:
    def __init__(
        self,
        link: FleetLink,
        providers: Iterable[str],
        *,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._prefix = prefix
        self._providers = sorted(set(providers))
        self._clock = clock
        self._until: dict[str, float] = {}  # provider → open until, on the clock
        self._extend = link.script(lua.source("extend.lua"))
        self._background = Background()

    def watch(self, providers: Iterable[str]) -> None:
        """The providers whose marks the poll reads (a reload may change them)."""
        self._providers = sorted(set(providers))

    def _key(self, provider: str) -> str:
        return f"{self._prefix}:open:{provider}"

    def open_for(self, provider: str) -> float:
        until = self._until.get(provider)
        return 0.0 if until is None else max(until - self._clock(), 0.0)

    def publish_open(self, provider: str, cooldown_s: float) -> None:
        if cooldown_s <= 0:
            return
        key, ms = self._key(provider), math.ceil(cooldown_s * 1000)
        work = self._link.call("health_publish", lambda r: self._extend(keys=[key], args=[ms]))
        self._background.spawn(work)

    async def refresh(self) -> None:
        if not self._providers:
            return
        names = [self._key(p) for p in self._providers]

        async def read(r: Any) -> list[int]:
            pipe = r.pipeline(transaction=False)
            for name in names:
                pipe.pttl(name)
            return list(await pipe.execute())

        ttls = await self._link.call("health_read", read)
        if ttls is None:
            return  # keep the known marks: they run out on their own
        now = self._clock()
        for provider, ttl in zip(self._providers, ttls, strict=True):
            if ttl > 0:
                opened = provider not in self._until or self._until[provider] <= now
                self._until[provider] = now + ttl / 1000
                if opened:
                    log.warning("fleet_provider_open", provider=provider,
                                open_for_s=round(ttl / 1000, 2))  # fmt: skip

    async def aclose(self) -> None:
        await self._background.wait()


async def poll(
    refreshers: Sequence[Callable[[], Awaitable[None]]], every_s: float = POLL_S
) -> None:
    """Run each refresher every `every_s` until cancelled (each bounded by the link)."""
    while True:
        for refresh in refreshers:
            with contextlib.suppress(Exception):  # a bug in one must not stop the others
                await refresh()
        await asyncio.sleep(every_s)
