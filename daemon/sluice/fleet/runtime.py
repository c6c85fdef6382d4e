"""Fleet mode as the app starts and stops it: one link, and what runs over it."""

from __future__ import annotations

from dataclasses import dataclass

from sluice.cache.tier import CacheTier
from sluice.config import FleetSettings
from sluice.fleet.cache_sync import FleetCache
from sluice.fleet.link import FleetLink, read_password
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.fleet")


@dataclass(frozen=True)
class Fleet:
    link: FleetLink
    # The pipeline's CacheReplica.
    cache: FleetCache

    async def close(self) -> None:
        """Send what the outbox holds (briefly), then close the connections."""
        await self.cache.close()
        await self.link.close()


async def start_fleet(
    settings: FleetSettings, metrics: Metrics, cache: CacheTier, *, model_id: str
) -> Fleet:
    """Connect, catch up (before the daemon reports SERVING), then follow the fleet.

    Redis down now: the daemon serves from its local state, degraded, and catches up when
    Redis answers (the link's recovery hook).
    """
    link = FleetLink(settings, metrics, password=read_password(settings.password_file))
    sync = FleetCache(link, cache, settings, model_id=model_id, metrics=metrics)
    sync.start()
    up = await link.start()
    if up:
        await sync.catch_up()
    log.info("fleet_started", redis=link.address, pod=sync.pod, degraded=not up)
    return Fleet(link, sync)
