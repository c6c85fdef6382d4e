"""Cost budgets per namespace, in fixed windows, and how a budget shapes a plan.

    spent < soft · limit     NORMAL         the plan as routed
    spent ≥ soft · limit     SHIFT_CHEAPER  only the cheapest affordable tier, no escalation
    spent ≥ limit            EXHAUSTED      ResourceExhausted, or the cheapest tier only

Windows are fixed and aligned to the clock's epoch (`floor(now / window_s)`);
with the default wall clock an hourly or daily window turns over on the UTC
hour or day. `BudgetGuard` is the seam a Redis-backed guard will implement so
that the sidecars of a fleet share one budget.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sluice.cascade.types import Tier
from sluice.errors import ResourceExhausted


class BudgetDecision(enum.Enum):
    NORMAL = "normal"
    SHIFT_CHEAPER = "shift_cheaper"
    EXHAUSTED = "exhausted"


class ExhaustedAction(enum.Enum):
    REJECT = "reject"  # answer RESOURCE_EXHAUSTED
    CHEAPEST = "cheapest"  # keep serving from the cheapest tier, over the limit


@dataclass(frozen=True, slots=True)
class BudgetLimit:
    usd: float
    window_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.usd < 0 or self.window_s <= 0:
            raise ValueError("a budget needs usd ≥ 0 and window_s > 0")


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    decision: BudgetDecision
    remaining_usd: float | None  # None: no limit for this namespace
    on_exhausted: ExhaustedAction = ExhaustedAction.REJECT


class BudgetGuard(Protocol):
    def remaining(self, namespace: str) -> float | None:
        """USD left in the current window; None when the namespace has no limit."""
        ...

    def charge(self, namespace: str, usd: float) -> None: ...

    def check(self, namespace: str) -> BudgetCheck: ...


class UnlimitedBudget:
    """No limits: every request is NORMAL."""

    def remaining(self, namespace: str) -> float | None:
        return None

    def charge(self, namespace: str, usd: float) -> None:
        return None

    def check(self, namespace: str) -> BudgetCheck:
        return BudgetCheck(BudgetDecision.NORMAL, None)


class InMemoryBudgetGuard:
    """Budgets of one process. Namespaces without a limit (and no default) are unlimited."""

    def __init__(
        self,
        limits: Mapping[str, BudgetLimit],
        *,
        default: BudgetLimit | None = None,
        soft_fraction: float = 0.8,
        on_exhausted: ExhaustedAction = ExhaustedAction.REJECT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 < soft_fraction <= 1.0:
            raise ValueError("soft_fraction must be in (0, 1]")
        self._limits = dict(limits)
        self._default = default
        self._soft = soft_fraction
        self._on_exhausted = on_exhausted
        self._clock = clock
        self._spent: dict[str, tuple[int, float]] = {}  # namespace → (window index, USD)

    def _limit(self, namespace: str) -> BudgetLimit | None:
        return self._limits.get(namespace, self._default)

    def _window(self, limit: BudgetLimit) -> int:
        return math.floor(self._clock() / limit.window_s)

    def spent(self, namespace: str) -> float:
        limit = self._limit(namespace)
        if limit is None:
            return self._spent.get(namespace, (0, 0.0))[1]
        window, usd = self._spent.get(namespace, (self._window(limit), 0.0))
        return usd if window == self._window(limit) else 0.0

    def remaining(self, namespace: str) -> float | None:
        limit = self._limit(namespace)
        if limit is None:
            return None
        return max(limit.usd - self.spent(namespace), 0.0)

    def charge(self, namespace: str, usd: float) -> None:
        if usd <= 0:
            return
        limit = self._limit(namespace)
        window = self._window(limit) if limit is not None else 0
        self._spent[namespace] = (window, self.spent(namespace) + usd)

    def check(self, namespace: str) -> BudgetCheck:
        limit = self._limit(namespace)
        if limit is None:
            return BudgetCheck(BudgetDecision.NORMAL, None, self._on_exhausted)
        spent = self.spent(namespace)
        remaining = max(limit.usd - spent, 0.0)
        if spent >= limit.usd:
            decision = BudgetDecision.EXHAUSTED
        elif spent >= self._soft * limit.usd:
            decision = BudgetDecision.SHIFT_CHEAPER
        else:
            decision = BudgetDecision.NORMAL
        return BudgetCheck(decision, remaining, self._on_exhausted)


@dataclass(frozen=True, slots=True)
class ShapedTiers:
    tiers: tuple[Tier, ...]
    # Higher tiers were dropped: a low-confidence answer is served, not escalated.
    truncated: bool = False
    # Set when the budget moved the start below the routed tier (a weaker answer than planned).
    degraded_reason: str = ""


def shape_tiers(
    tiers: tuple[Tier, ...],
    start: int,
    check: BudgetCheck,
    estimate: Callable[[Tier], float],
    namespace: str = "",
) -> ShapedTiers:
    """The tiers the cascade may use under `check`; raises ResourceExhausted when it may use none.

    `estimate` is the expected cost of one call on a tier (its cheapest deployment).
    The namespace budget shapes the plan but does not cap single calls: it is a
    budget across many requests, and one request may overshoot it by one call.
    """
    routed = tiers[start:]
    if check.decision is BudgetDecision.NORMAL:
        return ShapedTiers(routed)
    if check.decision is BudgetDecision.EXHAUSTED:
        if check.on_exhausted is ExhaustedAction.REJECT:
            raise ResourceExhausted(
                f"namespace {namespace!r} has spent its cost budget for this window; "
                "retry in the next window or raise the limit"
            )
        chosen, why = 0, "budget exhausted: cheapest tier only"
    else:
        remaining = check.remaining_usd if check.remaining_usd is not None else math.inf
        affordable = [i for i, tier in enumerate(tiers) if estimate(tier) <= remaining]
        chosen, why = (affordable[0] if affordable else 0), "budget near its limit"
    tier = tiers[chosen]
    reason = f"{why}: tier {tier.name!r} instead of {tiers[start].name!r}" if chosen < start else ""
    return ShapedTiers((tier,), truncated=len(routed) > 1 or chosen < start, degraded_reason=reason)
