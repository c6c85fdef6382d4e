"""A call the caller cuts off is still paid for: charged to the budget and reported.

Regression for issue #17: cancelled streams were never billed, counted or logged, so a
client that cancelled every stream spent provider money past its namespace's budget.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from sluice.cascade.budget import BudgetLimit, InMemoryBudgetGuard
from sluice.cascade.driver import (
    estimate_input_tokens,
    run_cascade,
    run_cascade_stream,
)
from sluice.cascade.types import Attempt, AttemptOutcome, CascadePlan
from sluice.errors import ResourceExhausted
from sluice.resilience.breaker import BreakerRegistry
from sluice.resilience.retry import RetryPolicy
from sluice.types import ChatMessage, GenParams, Usage
from tests.unit.cascade.fakes import FakeClock, FakeProvider, TextScorer, completion, dep, tier

MESSAGES = (ChatMessage("user", "What is the capital of France?"),)
INPUT = estimate_input_tokens(MESSAGES)
# USD per million tokens: large, so that a few tokens are a visible cost.
PREMIUM = tier("premium", dep("b", "b-big", price=(3000.0, 15000.0)))
CHEAP = tier("cheap", dep("a", "a-small", price=(1000.0, 2000.0)))
LONG = completion("Paris is the capital and largest city of France. " * 4, usage=Usage(11, 50))


def budget(limit: float = 1.0) -> InMemoryBudgetGuard:
    return InMemoryBudgetGuard({"team": BudgetLimit(limit)}, clock=FakeClock())


def kwargs(guard: InMemoryBudgetGuard, reports: list[tuple[Attempt, ...]]) -> dict[str, Any]:
    return {
        "providers": {p.name: p for p in (FakeProvider("a", [LONG]), FakeProvider("b", [LONG]))},
        "breakers": BreakerRegistry(),
        "retry_policy": RetryPolicy(),
        "scorer": TextScorer(),
        "deadline": asyncio.get_running_loop().time() + 30,
        "budget": guard,
        "rng": random.Random(1),
        "on_cancel": reports.append,
    }


async def test_a_call_cancelled_mid_flight_is_charged_its_admission_estimate() -> None:
    guard, reports = budget(), []
    kw = kwargs(guard, reports)
    kw["providers"]["b"].script = ["hang"]
    kw["deadline"] = 1e12
    plan = CascadePlan((PREMIUM,), namespace="team")
    task = asyncio.create_task(run_cascade(plan, MESSAGES, GenParams(max_tokens=100), **kw))
    for _ in range(10):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    expected = (INPUT * 3000.0 + 100 * 15000.0) / 1e6
    assert guard.spent("team") == pytest.approx(expected)
    (attempts,) = reports
    (cut,) = attempts
    assert cut.outcome is AttemptOutcome.CANCELLED
    assert cut.usage == Usage(INPUT, 100)
    assert cut.cost_usd == pytest.approx(expected)


async def test_a_stream_closed_by_its_reader_is_charged_for_what_it_sent() -> None:
    guard, reports = budget(), []
    s = run_cascade_stream(
        CascadePlan((PREMIUM,), namespace="team"), MESSAGES, GenParams(), **kwargs(guard, reports)
    )
    received = [await s.__anext__() for _ in range(8)]  # 24 characters ≈ 6 tokens
    await s.aclose()
    assert "".join(received) == LONG.text[:24]
    expected = (INPUT * 3000.0 + 6 * 15000.0) / 1e6
    assert guard.spent("team") == pytest.approx(expected)
    (attempts,) = reports
    assert [a.outcome for a in attempts] == [AttemptOutcome.CANCELLED]


async def test_a_buffered_call_cancelled_before_release_is_charged() -> None:
    guard, reports = budget(), []
    kw = kwargs(guard, reports)
    kw["providers"]["a"].delay_s = 10.0  # still buffering the cheap answer when cancelled
    plan = CascadePlan((CHEAP, PREMIUM), namespace="team")
    s = run_cascade_stream(plan, MESSAGES, GenParams(), **kw)
    task = asyncio.create_task(s.__anext__())
    for _ in range(10):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert guard.spent("team") == pytest.approx(INPUT * 1000.0 / 1e6)
    (attempts,) = reports
    assert [(a.model, a.outcome) for a in attempts] == [("a-small", AttemptOutcome.CANCELLED)]


async def test_cancelling_every_stream_cannot_overspend_by_more_than_one_request() -> None:
    limit = 0.5
    guard, reports = budget(limit), []
    one_request = (INPUT * 3000.0 + len(LONG.text) / 4 * 15000.0) / 1e6
    opened = 0

    async def read_a_little_then_leave() -> None:
        s = run_cascade_stream(
            CascadePlan((PREMIUM,), namespace="team"), MESSAGES, GenParams(),
            **kwargs(guard, reports),
        )  # fmt: skip
        for _ in range(10):
            await s.__anext__()
        await s.aclose()

    with pytest.raises(ResourceExhausted):  # noqa: PT012 - the loop ends when the budget does
        for _ in range(1000):
            await read_a_little_then_leave()
            opened += 1
    assert opened > 3  # the budget let some through before it closed
    assert len(reports) == opened  # each cut-off stream was reported; the refused one never ran
    assert limit <= guard.spent("team") <= limit + one_request
