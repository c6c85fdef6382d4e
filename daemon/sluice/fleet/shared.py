"""Budgets, rate limits and provider health over the fleet's link (models_path.SharedState).

The app builds one `FleetShared` per link and hands it to `build_model_path` at start
and on each reload: the budget guard is kept across reloads (its unsynced spending and
its recovery hook with it) and takes the new limits; the rate gate and the health board
follow the new providers and deployments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sluice.cascade.budget import InMemoryBudgetGuard
from sluice.config import Settings
from sluice.fleet.budget import FleetBudgetGuard
from sluice.fleet.health import FleetHealth, poll
from sluice.fleet.limits import FleetRateLimits
from sluice.fleet.link import FleetLink
from sluice.resilience.ratelimit import ProviderLimit


class FleetShared:
    def __init__(self, link: FleetLink, settings: Settings) -> None:
        self._link = link
        self._settings = settings
        fleet = settings.fleet
        self._prefix, self._replicas = fleet.key_prefix, fleet.expected_replicas
        self._budget: FleetBudgetGuard | None = None
        self._rate: FleetRateLimits | None = None
        self._health = FleetHealth(link, settings.providers, prefix=self._prefix)
        self._poll: asyncio.Task[None] | None = None

    def bind(self, settings: Settings) -> FleetShared:
        """Take a new config (a reload): its providers and deployments."""
        self._settings = settings
        self._health.watch(settings.providers)
        return self

    # ---- models_path.SharedState
    def budget(self, local: InMemoryBudgetGuard) -> FleetBudgetGuard:
        if self._budget is None:
            self._budget = FleetBudgetGuard(
                self._link, local, prefix=self._prefix, expected_replicas=self._replicas
            )
        else:
            self._budget.use(local)
        return self._budget

    def limits(self, limits: Mapping[str, ProviderLimit]) -> FleetRateLimits:
        deployments = [(d.provider, d.model) for t in self._settings.tiers for d in t.deployments]
        self._rate = FleetRateLimits(
            self._link, limits, prefix=self._prefix, expected_replicas=self._replicas,
            deployments=deployments,
        )  # fmt: skip
        return self._rate

    def board(self) -> FleetHealth:
        return self._health

    # ---- the poll
    async def refresh(self) -> None:
        """One round of reads: budget counters, 429 holds, open marks."""
        if self._budget is not None:
            await self._budget.refresh()
        if self._rate is not None:
            await self._rate.refresh()
        await self._health.refresh()

    def start(self) -> None:
        self._poll = asyncio.get_running_loop().create_task(poll([self.refresh]), name="fleet-poll")

    async def aclose(self) -> None:
        """Stop the poll; send the settles in flight (each bounded by the command timeout)."""
        if self._poll is not None:
            self._poll.cancel()
            await asyncio.gather(self._poll, return_exceptions=True)
        for part in (self._budget, self._rate, self._health):
            if part is not None:
                await part.aclose()
