"""Cost budgets per namespace, in fixed windows, and how a budget shapes a plan.

    spent < soft · limit     NORMAL         the plan as routed
    spent ≥ soft · limit     SHIFT_CHEAPER  only the cheapest affordable tier, no escalation
    spent ≥ limit            EXHAUSTED      ResourceExhausted, or the cheapest tier only

Windows are fixed and aligned to the clock's epoch (`floor(now / window_s)`);
with the default wall clock an hourly or daily window turns over on the UTC
hour or day. `BudgetGuard` is the seam the fleet's Redis-backed guard
(fleet/budget.py) implements so that the sidecars of a fleet share one budget.

Every provider call reserves its estimated cost first (`reserve`: the prompt and
the call's output cap at the deployment's price) and settles it after with the
real cost (`settle`; 0 for a failed call, what the provider billed for a cut-off
one). A call is admitted while spent + reserved is below the limit, so however
many calls run at once, the last one admitted crosses the limit by at most its
own estimate (before reservations, every call in flight when the limit was
reached went through).
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


@dataclass(frozen=True, slots=True)
class Hold:
    """A call's reserved estimate; `settle` it exactly once, with what the call really cost."""

    namespace: str
    usd: float  # reserved (0 when the namespace has no limit)
    granted: bool = True
    # The window it was reserved in: it is settled there, even after a turnover.
    window: int = 0
    # Fleet: reserved in Redis (False: in the pod's local share while Redis was unreachable).
    remote: bool = False
    # Why it was refused, for the caller (empty when granted).
    reason: str = ""


class BudgetGuard(Protocol):
    def remaining(self, namespace: str) -> float | None:
        """USD left in the current window; None when the namespace has no limit."""
        ...

    def charge(self, namespace: str, usd: float) -> None:
        """Spend without a reservation (a settle of nothing)."""
        ...

    def check(self, namespace: str) -> BudgetCheck:
        """How the budget shapes a new request's plan (no I/O: the guard's latest view)."""
        ...

    async def reserve(self, namespace: str, usd: float) -> Hold:
        """Reserve a call's estimate; a refused hold means the call must not start."""
        ...

    def settle(self, hold: Hold, usd: float) -> None:
        """Replace the hold's estimate by the real cost (0: release it). Never blocks."""
        ...


def decide(committed: float, limit: float, soft_fraction: float) -> BudgetDecision:
    if committed >= limit:
        return BudgetDecision.EXHAUSTED
    if committed >= soft_fraction * limit:
        return BudgetDecision.SHIFT_CHEAPER
    return BudgetDecision.NORMAL


def exhausted_message(namespace: str) -> str:
    return (
        f"namespace {namespace!r} has spent its cost budget for this window; "
        "retry in the next window or raise the limit"
    )


class UnlimitedBudget:
    """No limits: every request is NORMAL."""

    def remaining(self, namespace: str) -> float | None:
        return None

    def charge(self, namespace: str, usd: float) -> None:
        return None

    def check(self, namespace: str) -> BudgetCheck:
        return BudgetCheck(BudgetDecision.NORMAL, None)

    async def reserve(self, namespace: str, usd: float) -> Hold:
        return Hold(namespace, 0.0)

    def settle(self, hold: Hold, usd: float) -> None:
        return None


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
        self._reserved: dict[str, tuple[int, float]] = {}  # in-flight estimates, the same way

    def _limit(self, namespace: str) -> BudgetLimit | None:
        return self._limits.get(namespace, self._default)

    # The policy, for a guard that keeps the same budgets elsewhere (fleet/budget.py).
    def limit_for(self, namespace: str) -> BudgetLimit | None:
        return self._limit(namespace)

    @property
    def soft_fraction(self) -> float:
        return self._soft

    @property
    def on_exhausted(self) -> ExhaustedAction:
        return self._on_exhausted

    def _window(self, limit: BudgetLimit) -> int:
        return math.floor(self._clock() / limit.window_s)

    def spent(self, namespace: str) -> float:
        limit = self._limit(namespace)
        if limit is None:
            return self._spent.get(namespace, (0, 0.0))[1]
        window, usd = self._spent.get(namespace, (self._window(limit), 0.0))
        return usd if window == self._window(limit) else 0.0

    def reserved(self, namespace: str) -> float:
        limit = self._limit(namespace)
        if limit is None:
            return 0.0
        window, usd = self._reserved.get(namespace, (self._window(limit), 0.0))
        return usd if window == self._window(limit) else 0.0

    def _committed(self, namespace: str) -> float:
        return self.spent(namespace) + self.reserved(namespace)

    def remaining(self, namespace: str) -> float | None:
        limit = self._limit(namespace)
        if limit is None:
            return None
        return max(limit.usd - self._committed(namespace), 0.0)

    async def reserve(self, namespace: str, usd: float) -> Hold:
        limit = self._limit(namespace)
        if limit is None:
            return Hold(namespace, 0.0)
        window = self._window(limit)
        at_limit = self._committed(namespace) >= limit.usd
        if at_limit and self._on_exhausted is ExhaustedAction.REJECT:
            return Hold(namespace, 0.0, granted=False, window=window,
                        reason=exhausted_message(namespace))  # fmt: skip
        usd = max(usd, 0.0)
        self._reserved[namespace] = (window, self.reserved(namespace) + usd)
        return Hold(namespace, usd, window=window)

    def settle(self, hold: Hold, usd: float) -> None:
        if hold.usd > 0:
            window, reserved = self._reserved.get(hold.namespace, (hold.window, 0.0))
            if window == hold.window:  # else the window is over and its reservations with it
                self._reserved[hold.namespace] = (window, max(reserved - hold.usd, 0.0))
        self.charge(hold.namespace, usd)

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
        committed = self._committed(namespace)
        remaining = max(limit.usd - committed, 0.0)
        return BudgetCheck(decide(committed, limit.usd, self._soft), remaining, self._on_exhausted)


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
            raise ResourceExhausted(exhausted_message(namespace))
        chosen, why = 0, "budget exhausted: cheapest tier only"
    else:
        remaining = check.remaining_usd if check.remaining_usd is not None else math.inf
        affordable = [i for i, tier in enumerate(tiers) if estimate(tier) <= remaining]
        chosen, why = (affordable[0] if affordable else 0), "budget near its limit"
    tier = tiers[chosen]
    reason = f"{why}: tier {tier.name!r} instead of {tiers[start].name!r}" if chosen < start else ""
    return ShapedTiers((tier,), truncated=len(routed) > 1 or chosen < start, degraded_reason=reason)
