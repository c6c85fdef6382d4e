"""From settings to cascade values: priced tiers, the baseline, and one request's plan."""

from __future__ import annotations

from dataclasses import dataclass

from sluice.cascade.pricing import Price, PriceTable
from sluice.cascade.types import CascadePlan, Deployment, Tier
from sluice.config import Settings
from sluice.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every tier (cheapest first), with prices resolved once at start."""

    tiers: tuple[Tier, ...]
    baseline: Deployment | None
    prices: PriceTable
    max_escalations: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalogue:
        prices = PriceTable.with_defaults(
            {name: Price(p.input, p.output) for name, p in settings.prices.items()},
            cached_input_fraction=settings.cascade.cached_input_fraction,
        )
        tiers = tuple(
            Tier(
                name=t.name,
                deployments=tuple(
                    prices.deployment(d.provider, d.model, d.context_tokens) for d in t.deployments
                ),
                threshold=t.threshold,
                timeout_s=t.timeout_s,
                max_output_tokens=t.max_output_tokens,
            )
            for t in settings.tiers
        )
        base = settings.cascade.baseline
        baseline = prices.deployment(base.provider, base.model) if base is not None else None
        if baseline is None and tiers:
            baseline = tiers[-1].deployments[0]
        return cls(tiers, baseline, prices, settings.cascade.max_escalations)

    def tier_index(self, name: str, field: str) -> int:
        for i, tier in enumerate(self.tiers):
            if tier.name == name:
                return i
        known = [t.name for t in self.tiers]
        raise InvalidArgument(field, f"no tier {name[:64]!r}; configured tiers: {known}")

    def pinned(self, model: str, field: str) -> tuple[Tier, ...]:
        """One tier holding every deployment of `model` (cross-provider fallback only)."""
        for tier in self.tiers:
            deployments = tuple(d for d in tier.deployments if d.model == model)
            if deployments:
                return (Tier(tier.name, deployments, 0.0, tier.timeout_s, tier.max_output_tokens),)
        known = sorted({d.model for t in self.tiers for d in t.deployments})
        raise InvalidArgument(field, f"no configured model {model[:64]!r}; known: {known}")

    def plan(
        self,
        namespace: str,
        *,
        start: int = 0,
        pinned_model: str = "",
        max_cost_usd: float | None = None,
    ) -> CascadePlan:
        if pinned_model:
            return CascadePlan(
                self.pinned(pinned_model, "routing.pinned_model"), 0, namespace, 0,
                self.baseline, max_cost_usd,
            )  # fmt: skip
        return CascadePlan(
            self.tiers, start, namespace, self.max_escalations, self.baseline, max_cost_usd
        )
