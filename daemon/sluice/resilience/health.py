"""The fleet's view of provider health, as the breakers consult it: who holds a provider open.

Only "open" is shared, and only with an expiry: a pod whose breaker opens publishes
(provider, cooldown); every pod refuses that provider until the cooldown has passed.
Nothing closes it early: closing is each pod's own evidence (its half-open probes), so
one pod that happens to succeed cannot keep a provider closed for the others, and one
pod's stale view never outlives the cooldown it was told.

`LocalHealth` is the standalone board (nothing is shared: the local breaker decides
alone); fleet/health.py is the Redis one.
"""

from __future__ import annotations

from typing import Protocol


class HealthBoard(Protocol):
    def open_for(self, provider: str) -> float:
        """Seconds another pod still holds `provider` open (0: no one does). Never blocks."""
        ...

    def publish_open(self, provider: str, cooldown_s: float) -> None:
        """This pod's breaker opened for `cooldown_s`: tell the fleet. Never blocks."""
        ...


class LocalHealth:
    """No fleet: nothing is held open from elsewhere, and nothing is published."""

    def open_for(self, provider: str) -> float:
        return 0.0

    def publish_open(self, provider: str, cooldown_s: float) -> None:
        return None
