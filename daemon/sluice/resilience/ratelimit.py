"""Provider rate limits (RPM / TPM) and Retry-After holds, checked before a call starts.

A provider's `rpm` and `tpm` (providers.<name> in the config) are token buckets
that refill continuously (a full minute's worth at most): a call takes one
request and its estimated tokens (the prompt plus its output cap), and settles
the difference once the provider reports the real count. A 429 with a
Retry-After holds that model of that provider off for that long. A call the
gate holds back is never sent: the cascade sees a 429 with the wait as its
Retry-After, and retries after it when that fits or moves to the next
deployment (cascade/machine.py), exactly as if the provider had answered 429.

Holds are per (provider, model), not per provider: providers meter each model
on its own (OpenAI's and Anthropic's limits are per model), so a 429 on a small
model must not push a large model's traffic elsewhere.

`LocalRateLimits` is the standalone gate (one process); the fleet's gate
(fleet/limits.py) shares the same buckets and holds through Redis and falls
back to a local one, with each limit divided among the expected replicas,
while Redis is unreachable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ProviderLimit:
    rpm: float | None = None  # requests per minute
    tpm: float | None = None  # tokens (input + output) per minute

    def __post_init__(self) -> None:
        if (self.rpm is not None and self.rpm <= 0) or (self.tpm is not None and self.tpm <= 0):
            raise ValueError("rpm and tpm must be > 0 when set")

    @property
    def limited(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    def scaled(self, share: float) -> ProviderLimit:
        return ProviderLimit(
            None if self.rpm is None else self.rpm * share,
            None if self.tpm is None else self.tpm * share,
        )


class RateGate(Protocol):
    async def acquire(self, provider: str, model: str, tokens: int) -> float:
        """0.0: the call may start (its request and tokens are taken); else seconds to wait."""
        ...

    def settle(self, provider: str, model: str, estimated: int, actual: int) -> None:
        """The call used `actual` tokens where `estimated` were taken. Never blocks."""
        ...

    def hold(self, provider: str, model: str, seconds: float) -> None:
        """The provider answered 429 with this Retry-After: hold the model off that long."""
        ...


class NoRateLimits:
    """No limits and no holds (tests and tools that drive the cascade directly)."""

    async def acquire(self, provider: str, model: str, tokens: int) -> float:
        return 0.0

    def settle(self, provider: str, model: str, estimated: int, actual: int) -> None:
        return None

    def hold(self, provider: str, model: str, seconds: float) -> None:
        return None


class _Bucket:
    """`per_minute` units, refilled continuously; may go below 0 after an underestimate."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.per_minute = per_minute
        self.level = per_minute
        self.at = now

    def refill(self, now: float) -> float:
        elapsed = max(now - self.at, 0.0)
        self.level = min(self.per_minute, self.level + elapsed * self.per_minute / 60.0)
        self.at = now
        return self.level

    def need(self, amount: float) -> float:
        # A call larger than the whole bucket waits for a full one, not forever.
        return min(amount, self.per_minute)

    def wait(self, amount: float, now: float) -> float:
        short = self.need(amount) - self.refill(now)
        return 0.0 if short <= 0 else short * 60.0 / self.per_minute

    def take(self, amount: float) -> None:
        self.level -= self.need(amount)

    def adjust(self, delta: float, now: float) -> None:
        self.refill(now)
        self.level = max(-self.per_minute, min(self.per_minute, self.level - delta))


class LocalRateLimits:
    """The gate of one process: buckets per provider, holds per (provider, model)."""

    def __init__(
        self,
        limits: Mapping[str, ProviderLimit],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        now = clock()
        self._rpm = {p: _Bucket(x.rpm, now) for p, x in limits.items() if x.rpm is not None}
        self._tpm = {p: _Bucket(x.tpm, now) for p, x in limits.items() if x.tpm is not None}
        self._holds: dict[tuple[str, str], float] = {}  # → until, on the clock

    def held_for(self, provider: str, model: str) -> float:
        """Seconds this model of this provider is still held off (0: not held)."""
        until = self._holds.get((provider, model))
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._holds[(provider, model)]
            return 0.0
        return left

    def take(self, provider: str, model: str, tokens: int) -> float:
        """The buckets alone (no hold): take the call, or the seconds until it fits."""
        now = self._clock()
        rpm, tpm = self._rpm.get(provider), self._tpm.get(provider)
        wait = max(
            rpm.wait(1, now) if rpm is not None else 0.0,
            tpm.wait(tokens, now) if tpm is not None else 0.0,
        )
        if wait > 0:
            return wait
        if rpm is not None:
            rpm.take(1)
        if tpm is not None:
            tpm.take(tokens)
        return 0.0

    async def acquire(self, provider: str, model: str, tokens: int) -> float:
        held = self.held_for(provider, model)
        return held if held > 0 else self.take(provider, model, tokens)

    def settle(self, provider: str, model: str, estimated: int, actual: int) -> None:
        tpm = self._tpm.get(provider)
        if tpm is not None and actual != estimated:
            tpm.adjust(actual - estimated, self._clock())

    def hold(self, provider: str, model: str, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        key = (provider, model)
        # Only lengthens: a shorter Retry-After seen later does not cut a longer one short.
        self._holds[key] = max(self._holds.get(key, until), until)
