"""When to retry a failed call on the same deployment, and after how long.

The policy is pure: the random draw for the jitter is an argument, so the
cascade state machine can use it without reading a clock or a random source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Retry:
    """Call the same deployment again after `delay_s`."""

    delay_s: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Do not retry this deployment; fall back to the next one."""

    reason: str


RetryDecision = Retry | GiveUp


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring a provider's Retry-After.

    The n-th retry (n = 0, 1, …) waits `uniform(0, min(cap_s, base_s · 2ⁿ))`
    ("full jitter", so concurrent clients spread out), unless the provider sent
    Retry-After: then exactly that long, as it asked. Either way the retry
    happens only if the wait plus the shortest useful call still fits in the
    time left; otherwise the caller falls back at once instead of sleeping
    into the deadline.
    """

    max_retries: int = 2
    base_s: float = 0.1
    cap_s: float = 2.0
    # A Retry-After longer than this is treated as "not soon": fall back.
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be ≥ 0")
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError("base_s and cap_s must be ≥ 0")

    def backoff(self, retry: int, jitter: float) -> float:
        """The wait before retry number `retry` (0-based); `jitter` is uniform in [0, 1)."""
        # min() before the power would overflow for absurd retry counts.
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(retry, 64))
        return min(max(jitter, 0.0), 1.0) * ceiling

    def decide(
        self,
        retry: int,
        *,
        retry_after: float | None,
        remaining_s: float,
        jitter: float,
        min_call_s: float = 0.0,
    ) -> RetryDecision:
        """Decide after a retryable failure; `retry` retries were already made."""
        if retry >= self.max_retries:
            return GiveUp(f"no retries left ({self.max_retries} allowed)")
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return GiveUp(f"Retry-After {retry_after:g} s exceeds {self.max_retry_after_s:g} s")
        delay = max(retry_after, 0.0) if retry_after is not None else self.backoff(retry, jitter)
        if delay + min_call_s > remaining_s:
            return GiveUp(f"a {delay:.3g} s wait does not fit the {remaining_s:.3g} s left")
        return Retry(delay)
