"""What a call passes before it is sent: budget reservations, rate limits, the fleet's board.

Regressions for issue #20: concurrent requests each passed the budget check before any of
them was charged, so a pod overspent by every call in flight; a 429's Retry-After was not
remembered past the request that got it; a breaker's opening stayed on its own pod.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from sluice.cascade.budget import BudgetLimit, InMemoryBudgetGuard
from sluice.cascade.driver import estimate_input_tokens, run_cascade
from sluice.cascade.types import AttemptOutcome, CascadePlan
from sluice.errors import RateLimited, ResourceExhausted
from sluice.resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState
from sluice.resilience.ratelimit import LocalRateLimits, ProviderLimit
from sluice.resilience.retry import RetryPolicy
from sluice.types import ChatMessage, GenParams, Usage
from tests.unit.cascade.fakes import FakeClock, FakeProvider, TextScorer, completion, dep, tier

MESSAGES = (ChatMessage("user", "What is the capital of France?"),)
INPUT = estimate_input_tokens(MESSAGES)
# USD per million tokens: one call (≤ INPUT + 100 tokens) costs about $0.1.
TOP = tier("top", dep("a", "a-big", price=(1000.0, 1000.0)), max_output_tokens=100)
TWO = tier("two", dep("a", "a-big", price=(1.0, 1.0)), dep("b", "b-big", price=(1.0, 1.0)))
ESTIMATE = (INPUT + 100) * 1000.0 / 1e6


def kwargs(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "providers": {n: FakeProvider(n, [completion(usage=Usage(INPUT, 100))]) for n in "ab"},
        "breakers": BreakerRegistry(),
        "retry_policy": RetryPolicy(max_retries=0),
        "scorer": TextScorer(),
        "deadline": asyncio.get_running_loop().time() + 30,
        "rng": random.Random(1),
    }
    return {**base, **kw}


async def test_concurrent_requests_overspend_by_at_most_one_call() -> None:
    guard = InMemoryBudgetGuard({"team": BudgetLimit(1.0)}, clock=FakeClock())
    kw = kwargs(budget=guard)
    for provider in kw["providers"].values():
        provider.delay_s = 0.01  # every call is in flight when the next request checks
    plan = CascadePlan((TOP,), namespace="team")
    results = await asyncio.gather(
        *(run_cascade(plan, MESSAGES, GenParams(), **kw) for _ in range(40)),
        return_exceptions=True,
    )
    served = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ResourceExhausted)]
    assert len(served) + len(refused) == 40
    # Before reservations all 40 were admitted ($4 spent of $1).
    assert guard.spent("team") <= 1.0 + ESTIMATE
    assert len(served) == 10
    assert guard.reserved("team") == pytest.approx(0.0, abs=1e-12)  # every hold was settled


async def test_a_refused_reservation_mid_request_serves_the_best_answer_so_far() -> None:
    guard = InMemoryBudgetGuard({"team": BudgetLimit(0.05)}, clock=FakeClock())
    low = tier("low", dep("b", "b-small", price=(100.0, 100.0)), threshold=0.75)
    kw = kwargs(budget=guard)
    kw["providers"]["b"].script = [completion("weak@0.3", usage=Usage(INPUT, 600))]
    plan = CascadePlan((low, TOP), namespace="team")
    result = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert result.degraded
    assert "budget exhausted during the request" in result.degraded_reason
    assert result.attempts[-1].outcome is AttemptOutcome.OVER_BUDGET
    assert kw["providers"]["a"].requests == []  # the escalation was never sent


async def test_a_retry_after_holds_the_model_off_for_the_next_requests() -> None:
    clock = FakeClock()
    limits = LocalRateLimits({}, clock=clock)
    kw = kwargs(budget=InMemoryBudgetGuard({}), limits=limits, clock=clock, sleep=clock.sleep)
    kw["deadline"] = clock() + 30
    kw["providers"]["a"].script = [RateLimited("slow down", provider="a", retry_after=60.0)]
    plan = CascadePlan((TWO,))
    first = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert first.served_by.provider == "b"
    second = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert second.served_by.provider == "b"
    assert len(kw["providers"]["a"].requests) == 1  # held off: the second was never sent
    skipped = second.attempts[0]
    assert skipped.outcome is AttemptOutcome.RATE_LIMITED
    assert skipped.error.startswith("skipped:")
    clock.now += 61  # the hold is over
    kw["deadline"] = clock() + 30
    await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert len(kw["providers"]["a"].requests) == 2


async def test_rpm_waits_when_it_fits_and_moves_on_when_it_does_not() -> None:
    clock = FakeClock()
    limits = LocalRateLimits({"a": ProviderLimit(rpm=60)}, clock=clock)  # one a second
    kw = kwargs(budget=InMemoryBudgetGuard({}), limits=limits, clock=clock, sleep=clock.sleep)
    kw["retry_policy"] = RetryPolicy(max_retries=1)
    kw["deadline"] = clock() + 30
    plan = CascadePlan((TWO,))
    for _ in range(60):
        assert (await run_cascade(plan, MESSAGES, GenParams(), **kw)).served_by.provider == "a"
    waited = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert waited.served_by.provider == "a"
    assert clock.sleeps == [pytest.approx(1.0)]
    kw["retry_policy"] = RetryPolicy(max_retries=1, max_retry_after_s=0.5)
    moved = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert moved.served_by.provider == "b"
    assert len(kw["providers"]["a"].requests) == 61  # nothing past the limit was sent


class Board:
    """A fleet board: what other pods hold open, and what this one published."""

    def __init__(self) -> None:
        self.open: dict[str, float] = {}
        self.published: list[tuple[str, float]] = []

    def open_for(self, provider: str) -> float:
        return self.open.get(provider, 0.0)

    def publish_open(self, provider: str, cooldown_s: float) -> None:
        self.published.append((provider, cooldown_s))


async def test_a_breaker_opened_elsewhere_is_skipped_and_an_opening_is_published() -> None:
    board = Board()
    config = BreakerConfig(minimum_calls=2, cooldown_s=15.0)
    breakers = BreakerRegistry(config, board=board)
    kw = kwargs(budget=InMemoryBudgetGuard({}), breakers=breakers)
    plan = CascadePlan((TWO,))
    board.open["a"] = 10.0  # another pod's breaker opened on provider a
    result = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert result.served_by.provider == "b"
    assert result.attempts[0].outcome is AttemptOutcome.CIRCUIT_OPEN
    assert kw["providers"]["a"].requests == []
    assert breakers.get("a").state is BreakerState.CLOSED  # this pod's own view is untouched
    board.open.clear()
    for _ in range(2):
        breakers.get("b").allow()
        breakers.get("b").record_failure()
    assert board.published == [("b", 15.0)]
    # Every breaker refuses: the panic call asks only the local breaker's bounded exception.
    board.open["a"] = 10.0
    panicked = await run_cascade(plan, MESSAGES, GenParams(), **kw)
    assert panicked.served_by.provider == "a"
    assert panicked.degraded
