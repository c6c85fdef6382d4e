"""The async driver against in-process fake providers (a seam, not mock.patch)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

import pytest

from sluice.cascade.budget import BudgetLimit, ExhaustedAction, InMemoryBudgetGuard, UnlimitedBudget
from sluice.cascade.driver import CascadeStream, run_cascade, run_cascade_stream
from sluice.cascade.types import AttemptOutcome as O
from sluice.cascade.types import CascadePlan, CascadeResult
from sluice.errors import (
    DeadlineExceeded,
    ProviderError,
    ProviderErrorKind,
    RateLimited,
    ResourceExhausted,
    Unavailable,
)
from sluice.resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState
from sluice.resilience.retry import RetryPolicy
from sluice.types import ChatMessage, GenParams, Usage
from tests.unit.cascade.fakes import FakeClock, FakeProvider, TextScorer, completion, dep, tier

MESSAGES = (ChatMessage("user", "What is the capital of France?"),)
CHEAP = tier(
    "cheap", dep("a", "a-mini", price=(0.15, 0.6)), dep("b", "b-haiku", price=(0.25, 1.25))
)
PREMIUM = tier("premium", dep("b", "b-sonnet", price=(3.0, 15.0)), dep("c", "c-4o"))
PLAN = CascadePlan((CHEAP, PREMIUM))


def s503() -> ProviderError:
    return ProviderError("upstream 503", kind=ProviderErrorKind.RETRYABLE, status=503)


def providers(*fakes: FakeProvider) -> dict[str, FakeProvider]:
    return {f.name: f for f in fakes}


def outcomes(result: CascadeResult | Unavailable) -> list[tuple[str, O]]:
    return [(a.model, a.outcome) for a in result.attempts]


async def cascade(
    fakes: Mapping[str, FakeProvider],
    *,
    plan: CascadePlan = PLAN,
    clock: Any = None,
    deadline_in: float = 30.0,
    **kw: Any,
) -> CascadeResult:
    clock = clock or FakeClock()
    kw.setdefault("breakers", BreakerRegistry(clock=clock))
    kw.setdefault("retry_policy", RetryPolicy())
    kw.setdefault("budget", UnlimitedBudget())
    return await run_cascade(
        plan,
        MESSAGES,
        kw.pop("params", GenParams()),
        providers=fakes,
        scorer=TextScorer(),
        deadline=clock() + deadline_in,
        clock=clock,
        sleep=getattr(clock, "sleep", asyncio.sleep),
        rng=random.Random(1),
        **kw,
    )


async def test_cheap_confident_answer_is_one_call() -> None:
    a = FakeProvider("a", [completion("Paris", usage=Usage(1000, 100))])
    result = await cascade(providers(a))
    assert result.completion.text == "Paris"
    assert (result.served_by.provider, result.served_by.model, result.served_by.tier) == (
        "a",
        "a-mini",
        "cheap",
    )
    assert outcomes(result) == [("a-mini", O.ACCEPTED)]
    assert result.confidence == 0.9
    assert not result.degraded
    assert result.cost_usd == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    assert result.baseline_cost_usd == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)
    assert len(a.requests) == 1
    assert a.requests[0].logprobs


async def test_low_confidence_escalates_and_records_attempts() -> None:
    a = FakeProvider("a", [completion("maybe Lyon@0.4")])
    b = FakeProvider("b", [completion("Paris@0.95")])
    result = await cascade(providers(a, b))
    assert result.completion.text == "Paris@0.95"
    assert result.served_by.tier == "premium"
    assert outcomes(result) == [("a-mini", O.LOW_CONFIDENCE), ("b-sonnet", O.ACCEPTED)]
    assert [x.confidence for x in result.attempts] == [0.4, 0.95]
    assert result.cost_usd == pytest.approx(sum(x.cost_usd for x in result.attempts))
    assert not result.degraded


async def test_retryable_errors_retry_then_fall_back_to_another_provider() -> None:
    clock = FakeClock()
    a = FakeProvider("a", [s503()])
    b = FakeProvider("b", [completion("Paris")])
    result = await cascade(providers(a, b), clock=clock)
    assert len(a.requests) == 3  # one call + two retries
    assert len(clock.sleeps) == 2
    # full jitter under the ceilings 0.1 and 0.2
    assert clock.sleeps[0] <= 0.1
    assert clock.sleeps[1] <= 0.2
    assert [x.retry for x in result.attempts] == [0, 1, 2, 0]
    assert result.served_by.model == "b-haiku"
    assert not result.degraded  # a sibling deployment is not a weaker answer


async def test_breaker_opens_after_n_failures_and_half_opens_after_cooldown() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(
        BreakerConfig(minimum_calls=2, cooldown_s=15, half_open_probes=1), clock=clock
    )
    a = FakeProvider("a", [s503(), s503(), completion("Paris from a")])
    b = FakeProvider("b", [completion("Paris from b")])
    kw: dict[str, Any] = {"clock": clock, "breakers": breakers, "retry_policy": RetryPolicy(0)}
    for _ in range(2):
        assert (await cascade(providers(a, b), **kw)).served_by.provider == "b"
    assert breakers.get("a").state is BreakerState.OPEN
    result = await cascade(providers(a, b), **kw)
    assert outcomes(result)[0] == ("a-mini", O.CIRCUIT_OPEN)
    assert len(a.requests) == 2  # skipped without a call
    clock.now += 15
    assert breakers.get("a").state is BreakerState.HALF_OPEN
    result = await cascade(providers(a, b), **kw)
    assert result.completion.text == "Paris from a"  # the probe succeeded
    assert breakers.get("a").state is BreakerState.CLOSED


async def test_retry_after_is_honoured_when_it_fits() -> None:
    clock = FakeClock()
    a = FakeProvider("a", [RateLimited("429", provider="a", retry_after=1.5), completion("ok")])
    result = await cascade(providers(a), clock=clock)
    assert clock.sleeps == [1.5]
    assert outcomes(result) == [("a-mini", O.RATE_LIMITED), ("a-mini", O.ACCEPTED)]


async def test_retry_after_longer_than_the_deadline_falls_back_at_once() -> None:
    clock = FakeClock()
    a = FakeProvider("a", [RateLimited("429", provider="a", retry_after=5.0)])
    b = FakeProvider("b", [completion("ok")])
    result = await cascade(providers(a, b), clock=clock, deadline_in=3.0)
    assert clock.sleeps == []
    assert outcomes(result) == [("a-mini", O.RATE_LIMITED), ("b-haiku", O.ACCEPTED)]


async def test_hang_times_out_then_falls_back() -> None:
    fast = tier("cheap", dep("a", "a-mini"), dep("b", "b-haiku"), timeout_s=0.05)
    a = FakeProvider("a", ["hang"])
    b = FakeProvider("b", [completion("ok")])
    result = await cascade(
        providers(a, b),
        plan=CascadePlan((fast,)),
        clock=time.monotonic,
        retry_policy=RetryPolicy(max_retries=0),
    )
    assert outcomes(result) == [("a-mini", O.TIMEOUT), ("b-haiku", O.ACCEPTED)]
    assert a.cancelled == 1
    assert result.attempts[0].latency_s >= 0.05


async def test_all_down_is_unavailable_with_every_attempt() -> None:
    down = ProviderError("401", kind=ProviderErrorKind.PROVIDER_WIDE)
    fakes = providers(FakeProvider("a", [down]), FakeProvider("b", [s503()]))
    with pytest.raises(Unavailable) as info:
        await cascade(fakes, retry_policy=RetryPolicy(0))  # "c" is not configured at all
    assert outcomes(info.value) == [
        ("a-mini", O.PROVIDER_ERROR),
        ("b-haiku", O.PROVIDER_ERROR),
        ("b-sonnet", O.PROVIDER_ERROR),
        ("c-4o", O.PROVIDER_ERROR),
    ]


async def test_budget_exhausted_rejects_or_serves_the_cheapest_tier() -> None:
    clock = FakeClock()
    budget = InMemoryBudgetGuard({"default": BudgetLimit(1.0)}, clock=clock)
    budget.charge("default", 1.0)
    b = FakeProvider("b", [completion("ok")])
    plan = CascadePlan((CHEAP, PREMIUM), start=1)
    with pytest.raises(ResourceExhausted):
        await cascade(providers(b), plan=plan, clock=clock, budget=budget)
    assert b.requests == []
    cheapest = InMemoryBudgetGuard(
        {"default": BudgetLimit(1.0)}, clock=clock, on_exhausted=ExhaustedAction.CHEAPEST
    )
    cheapest.charge("default", 1.0)
    result = await cascade(providers(b), plan=plan, clock=clock, budget=cheapest)
    assert result.served_by.tier == "cheap"
    assert result.degraded  # routed to premium, served by cheap
    assert "budget exhausted" in result.degraded_reason


async def test_spending_is_charged_to_the_namespace() -> None:
    budget = InMemoryBudgetGuard({"team": BudgetLimit(1.0)}, clock=FakeClock())
    a = FakeProvider("a", [completion("ok", usage=Usage(1_000_000, 0))])
    plan = CascadePlan((CHEAP,), namespace="team")
    await cascade(providers(a), plan=plan, budget=budget)
    assert budget.spent("team") == pytest.approx(0.15)


async def test_deadline_shorter_than_the_chain_leaves_nothing_running() -> None:
    a = FakeProvider("a", ["hang"])
    b = FakeProvider("b", ["hang"])
    with pytest.raises(DeadlineExceeded):
        await cascade(providers(a, b), clock=time.monotonic, deadline_in=0.1)
    assert a.cancelled == 1
    assert b.requests == []  # no call started without time for it
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_the_caller_cancels_the_call_and_frees_the_probe() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(BreakerConfig(minimum_calls=1, half_open_probes=1), clock=clock)
    breakers.get("a").record_failure()
    clock.now += 15  # half-open: the next call is the probe
    a = FakeProvider("a", ["hang"])
    task = asyncio.create_task(cascade(providers(a), clock=clock, breakers=breakers))
    for _ in range(10):  # let the task reach the provider call
        await asyncio.sleep(0)
    assert a.requests
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert a.cancelled == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert breakers.get("a").allow()  # the probe slot was handed back


async def test_request_carries_the_tier_limits() -> None:
    capped = tier("cheap", dep("a"), max_output_tokens=256)
    a = FakeProvider("a", [completion("ok")])
    await cascade(providers(a), plan=CascadePlan((capped,)), params=GenParams(max_tokens=1000))
    assert a.requests[0].params.max_tokens == 256
    assert a.requests[0].timeout_s == 10.0


# ---- streaming


def stream(fakes: Mapping[str, FakeProvider], plan: CascadePlan = PLAN, **kw: Any) -> CascadeStream:
    clock = kw.pop("clock", None) or FakeClock()
    return run_cascade_stream(
        plan,
        MESSAGES,
        GenParams(),
        providers=fakes,
        breakers=kw.pop("breakers", BreakerRegistry(clock=clock)),
        retry_policy=kw.pop("retry_policy", RetryPolicy()),
        scorer=TextScorer(),
        deadline=clock() + 30,
        budget=UnlimitedBudget(),
        clock=clock,
        sleep=getattr(clock, "sleep", asyncio.sleep),
        rng=random.Random(1),
    )


async def collect(s: CascadeStream) -> list[str]:
    return [delta async for delta in s]


async def test_stream_escalates_before_the_first_byte() -> None:
    a = FakeProvider("a", [completion("Lyon?@0.3")])
    b = FakeProvider("b", [completion("Paris is the capital.")])
    s = stream(providers(a, b))
    deltas = await collect(s)
    assert "".join(deltas) == "Paris is the capital."
    assert len(deltas) > 1  # the last tier streams straight through
    assert s.result is not None
    assert outcomes(s.result) == [("a-mini", O.LOW_CONFIDENCE), ("b-sonnet", O.ACCEPTED)]
    assert a.closed_streams == 1


async def test_stream_releases_a_confident_buffered_answer() -> None:
    a = FakeProvider("a", [completion("Paris")])
    s = stream(providers(a))
    assert await collect(s) == ["Paris"]
    assert s.result is not None
    assert s.result.served_by.tier == "cheap"


async def test_stream_error_after_the_first_byte_raises() -> None:
    a = FakeProvider("a", [completion("low@0.1")])
    b = FakeProvider("b", [completion("Paris is lovely")], fail_after_chunks=2, stream_error=s503())
    c = FakeProvider("c", [completion("never")])
    s = stream(providers(a, b, c))
    got: list[str] = []

    async def read() -> None:
        async for delta in s:
            got.append(delta)

    with pytest.raises(Unavailable) as info:
        await read()
    assert "".join(got) == "Paris "
    assert c.requests == []  # never switch models after bytes reached the client
    assert outcomes(info.value)[-1] == ("b-sonnet", O.PROVIDER_ERROR)
    assert b.closed_streams == 1
    assert s.result is None


async def test_stream_failure_before_the_first_byte_still_falls_back() -> None:
    a = FakeProvider("a", [completion("low@0.1")])
    b = FakeProvider("b", [completion("x")], fail_after_chunks=0, stream_error=s503())
    c = FakeProvider("c", [completion("Paris")])
    s = stream(providers(a, b, c), retry_policy=RetryPolicy(0))
    assert "".join(await collect(s)) == "Paris"
    assert s.result is not None
    assert s.result.served_by.model == "c-4o"


async def test_stream_closed_early_closes_the_provider_stream() -> None:
    b = FakeProvider("b", [completion("a long answer in many chunks")])
    s = stream(providers(b), plan=CascadePlan((PREMIUM,)))
    assert await s.__anext__() == "a l"
    await s.aclose()
    assert b.closed_streams == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_every_breaker_open_still_answers_through_a_bounded_panic_call() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(BreakerConfig(minimum_calls=2, half_open_probes=1), clock=clock)
    for _ in range(2):
        breakers.get("a").record_failure()  # a: 100 % failed
    breakers.get("b").record_success()
    breakers.get("b").record_failure()  # b: 50 %, the least bad
    a = FakeProvider("a", [s503()])
    b = FakeProvider("b", [completion("Paris from b"), s503()])
    result = await cascade(providers(a, b), clock=clock, breakers=breakers)
    assert result.completion.text == "Paris from b"
    assert result.served_by.model == "b-haiku"
    assert result.degraded
    assert "b was called anyway (panic)" in result.degraded_reason
    assert outcomes(result)[-1] == ("b-haiku", O.ACCEPTED)
    assert a.requests == []
    # b answered a panic call, so its panic calls flow with the usual retries; a answered
    # none, so it is refused after max(probes, minimum_calls) = 2 failed ones.
    with pytest.raises(Unavailable, match="calls made anyway failed too"):
        await cascade(providers(a, b), clock=clock, breakers=breakers)
    assert (len(b.requests), len(a.requests)) == (1 + 3, 2)
    assert breakers.get("b").state is BreakerState.OPEN  # panic results do not move it


async def test_a_dead_provider_gets_no_more_panic_calls_than_probes() -> None:
    clock = FakeClock()
    breakers = BreakerRegistry(BreakerConfig(minimum_calls=1, half_open_probes=2), clock=clock)
    breakers.get("a").record_failure()
    breakers.get("b").record_failure()
    a = FakeProvider("a", [s503()] * 10)
    b = FakeProvider("b", [s503()] * 10)
    for _ in range(5):
        with pytest.raises(Unavailable):
            await cascade(providers(a, b), clock=clock, breakers=breakers)
    # probes (2) panic calls per provider per cooldown, retries included; then every
    # request fails fast.
    assert (len(a.requests), len(b.requests)) == (2, 2)
