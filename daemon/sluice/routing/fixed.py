"""Fixed routing: a pinned model, a requested start tier, or the cheapest tier."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluice.cascade.plan import Catalogue
from sluice.cascade.types import Deployment

# provider name → may it be called now (its breaker is not open)? The router reports the
# first deployment the cascade will actually try, not one it is about to skip.
Available = Callable[[str], bool]


def everyone(provider: str) -> bool:
    return True


def first_available(deployments: Sequence[Deployment], available: Available) -> Deployment:
    """The first deployment whose provider may be called; the first one when none may (the
    cascade then tries them anyway, in panic)."""
    return next((d for d in deployments if available(d.provider)), deployments[0])


@dataclass(frozen=True, slots=True)
class RouteDecision:
    tier: str
    provider: str
    model: str
    policy: str
    reason: str
    score: float = 0.0
    variant: str = ""


@dataclass(frozen=True, slots=True)
class RoutingHints:
    task_tags: tuple[str, ...] = ()
    max_cost_usd: float | None = None
    pinned_model: str = ""
    start_tier: str = ""


class FixedRouter:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def decide(
        self, hints: RoutingHints, available: Available = everyone
    ) -> tuple[int, RouteDecision]:
        """The start tier's index and the decision to report."""
        c = self.catalogue
        if hints.pinned_model:
            (tier,) = c.pinned(hints.pinned_model, "routing.pinned_model")
            first = first_available(tier.deployments, available)
            return 0, RouteDecision(
                tier.name, first.provider, first.model, "pinned", "routing.pinned_model"
            )
        if hints.start_tier:
            index = c.tier_index(hints.start_tier, "routing.start_tier")
            reason = "routing.start_tier"
        else:
            index, reason = 0, "cheapest tier first; the cascade escalates on low confidence"
        tier = c.tiers[index]
        first = first_available(tier.deployments, available)
        return index, RouteDecision(tier.name, first.provider, first.model, "default", reason)
