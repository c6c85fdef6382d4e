"""Provider rate limits and Retry-After holds shared by the fleet through Redis (a `RateGate`).

    <prefix>:rl:<provider>:rpm / :tpm        token buckets (hash: tokens, ts), idle 2 min → gone
    <prefix>:hold:<provider>:<model>         a 429's Retry-After; its TTL is the hold

A call takes one request and its estimated tokens from the provider's buckets in
one bucket_take.lua (the server's clock refills them, so pods' clocks never
disagree); that script also answers "held" while another pod's 429 holds the
model off. A 429's Retry-After is written with extend.lua (a hold only ever
lengthens), and every pod reads the holds of its configured deployments each
poll (fleet/health.py's `poll`), so a provider without rpm/tpm is held off too.

Redis unreachable: the pod's own buckets, each limit divided by
fleet.expected_replicas, and the holds it knows (its own 429s and the last ones
read). A provider without rpm or tpm costs no Redis call per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sluice.fleet import lua
from sluice.fleet.background import Background
from sluice.fleet.link import FleetLink
from sluice.resilience.ratelimit import LocalRateLimits, ProviderLimit


class FleetRateLimits:
    def __init__(
        self,
        link: FleetLink,
        limits: Mapping[str, ProviderLimit],
        *,
        prefix: str,
        expected_replicas: int,
        deployments: Iterable[tuple[str, str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._limits = {p: x for p, x in limits.items() if x.limited}
        self._prefix = prefix
        share = {p: x.scaled(1.0 / expected_replicas) for p, x in self._limits.items()}
        self._local = LocalRateLimits(share, clock=clock)
        self._watched = sorted(set(deployments))
        self._take = link.script(lua.source("bucket_take.lua"))
        self._adjust = link.script(lua.source("bucket_adjust.lua"))
        self._extend = link.script(lua.source("extend.lua"))
        self._background = Background()

    def _hold_key(self, provider: str, model: str) -> str:
        return f"{self._prefix}:hold:{provider}:{model}"

    def _bucket_key(self, provider: str, kind: str) -> str:
        return f"{self._prefix}:rl:{provider}:{kind}"

    async def acquire(self, provider: str, model: str, tokens: int) -> float:
        held = self._local.held_for(provider, model)
        if held > 0:
            return held
        limit = self._limits.get(provider)
        if limit is None:
            return 0.0
        keys = [self._hold_key(provider, model), self._bucket_key(provider, "rpm"),
                self._bucket_key(provider, "tpm")]  # fmt: skip
        args = [limit.rpm or 0, limit.tpm or 0, tokens]
        reply = await self._link.call("rate_limit", lambda r: self._take(keys=keys, args=args))
        if reply is None:  # Redis unreachable: this pod's share
            return self._local.take(provider, model, tokens)
        return int(reply) / 1000

    def settle(self, provider: str, model: str, estimated: int, actual: int) -> None:
        limit = self._limits.get(provider)
        if limit is None or limit.tpm is None or actual == estimated:
            return
        if self._link.degraded:
            self._local.settle(provider, model, estimated, actual)
            return
        key, args = self._bucket_key(provider, "tpm"), [limit.tpm, actual - estimated]
        work = self._call("rate_limit", lambda r: self._adjust(keys=[key], args=args))
        self._background.spawn(work)

    def hold(self, provider: str, model: str, seconds: float) -> None:
        if seconds <= 0:
            return
        self._local.hold(provider, model, seconds)
        key, ms = self._hold_key(provider, model), math.ceil(seconds * 1000)
        work = self._call("rate_hold", lambda r: self._extend(keys=[key], args=[ms]))
        self._background.spawn(work)

    async def refresh(self) -> None:
        """Read every watched model's hold (other pods' 429s) into the local view."""
        if not self._watched:
            return
        names = [self._hold_key(p, m) for p, m in self._watched]

        async def read(r: Any) -> list[int]:
            pipe = r.pipeline(transaction=False)
            for name in names:
                pipe.pttl(name)
            return list(await pipe.execute())

        ttls = await self._link.call("rate_hold_read", read)
        for (provider, model), ttl in zip(self._watched, ttls or [], strict=False):
            if ttl > 0:
                self._local.hold(provider, model, ttl / 1000)

    async def _call(self, what: str, op: Callable[[Any], Any]) -> None:
        await self._link.call(what, op)

    async def aclose(self) -> None:
        await self._background.wait()
