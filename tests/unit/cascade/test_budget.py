"""BudgetGuard windows and decisions, and how a decision shapes the tiers."""

from __future__ import annotations

import pytest

from sluice.cascade.budget import (
    BudgetCheck,
    BudgetDecision,
    BudgetLimit,
    ExhaustedAction,
    InMemoryBudgetGuard,
    UnlimitedBudget,
    shape_tiers,
)
from sluice.cascade.types import Tier
from sluice.errors import ResourceExhausted
from tests.unit.cascade.fakes import FakeClock, dep, tier

N = BudgetDecision


def guard(clock: FakeClock, **kw: object) -> InMemoryBudgetGuard:
    return InMemoryBudgetGuard(
        {"team": BudgetLimit(10.0, window_s=3600)},
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def test_decisions_follow_spending() -> None:
    clock = FakeClock(now=7200.0)
    g = guard(clock)
    assert g.check("team") == BudgetCheck(N.NORMAL, 10.0)
    g.charge("team", 7.9)
    assert g.check("team").decision is N.NORMAL
    g.charge("team", 0.1)
    assert g.check("team").decision is N.SHIFT_CHEAPER
    assert g.remaining("team") == pytest.approx(2.0)
    g.charge("team", 2.0)
    assert g.check("team").decision is N.EXHAUSTED
    assert g.remaining("team") == 0.0
    g.charge("team", 5.0)
    assert g.remaining("team") == 0.0


def test_fixed_windows_reset() -> None:
    clock = FakeClock(now=7200.0)
    g = guard(clock)
    g.charge("team", 10.0)
    clock.now = 7200.0 + 3599.0
    assert g.check("team").decision is N.EXHAUSTED
    clock.now = 7200.0 + 3600.0  # the next hour
    assert g.check("team").decision is N.NORMAL
    assert g.spent("team") == 0.0


def test_unlimited_namespaces_and_default_limit() -> None:
    clock = FakeClock()
    g = guard(clock, soft_fraction=0.5, on_exhausted=ExhaustedAction.CHEAPEST)
    assert g.remaining("other") is None
    g.charge("other", 1e9)
    assert g.check("other").decision is N.NORMAL
    g2 = InMemoryBudgetGuard({}, default=BudgetLimit(1.0), clock=clock)
    g2.charge("any", 1.0)
    assert g2.check("any").decision is N.EXHAUSTED
    g.charge("team", 5.0)
    assert g.check("team") == BudgetCheck(N.SHIFT_CHEAPER, 5.0, ExhaustedAction.CHEAPEST)
    assert UnlimitedBudget().check("x").decision is N.NORMAL
    with pytest.raises(ValueError, match="soft_fraction"):
        InMemoryBudgetGuard({}, soft_fraction=0.0)


CHEAP = tier("cheap", dep("g", price=(0.1, 0.1)))
MID = tier("mid", dep("a", price=(1.0, 1.0)))
TOP = tier("top", dep("b", price=(10.0, 10.0)))
TIERS = (CHEAP, MID, TOP)


def estimate(t: Tier) -> float:
    return min(d.input_usd_per_mtok for d in t.deployments)  # 1M tokens a call


def test_normal_keeps_the_routed_plan() -> None:
    shaped = shape_tiers(TIERS, 1, BudgetCheck(N.NORMAL, 100.0), estimate)
    assert [t.name for t in shaped.tiers] == ["mid", "top"]
    assert (shaped.truncated, shaped.degraded_reason) == (False, "")


def test_shift_cheaper_keeps_only_the_cheapest_affordable_tier() -> None:
    shaped = shape_tiers(TIERS, 0, BudgetCheck(N.SHIFT_CHEAPER, 5.0), estimate)
    assert [t.name for t in shaped.tiers] == ["cheap"]
    assert shaped.truncated
    assert shaped.degraded_reason == ""  # routed cheap anyway: not weaker than planned
    shaped = shape_tiers(TIERS, 2, BudgetCheck(N.SHIFT_CHEAPER, 5.0), estimate)
    assert [t.name for t in shaped.tiers] == ["cheap"]
    assert "instead of 'top'" in shaped.degraded_reason
    # Nothing affordable: the cheapest one anyway.
    shaped = shape_tiers(TIERS, 2, BudgetCheck(N.SHIFT_CHEAPER, 0.01), estimate)
    assert [t.name for t in shaped.tiers] == ["cheap"]


def test_exhausted_rejects_or_serves_the_cheapest() -> None:
    with pytest.raises(ResourceExhausted, match="'team'"):
        shape_tiers(TIERS, 1, BudgetCheck(N.EXHAUSTED, 0.0), estimate, "team")
    check = BudgetCheck(N.EXHAUSTED, 0.0, ExhaustedAction.CHEAPEST)
    shaped = shape_tiers(TIERS, 1, check, estimate)
    assert [t.name for t in shaped.tiers] == ["cheap"]
    assert shaped.degraded_reason.startswith("budget exhausted")
