"""What a call cost, and what the same tokens would have cost on the baseline model.

Prices are USD per million tokens. `Usage.input_tokens` counts every prompt
token, cached ones included (as OpenAI reports it); the cached part is billed
at `cached_input_fraction` of the input price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sluice.cascade.types import Deployment
from sluice.errors import ConfigError
from sluice.types import Usage

_PER = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Price:
    input_usd_per_mtok: float
    output_usd_per_mtok: float


# List prices at the time of writing; config `prices:` overrides them by model name.
DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-3-haiku": Price(0.25, 1.25),
    "gemini-1.5-flash": Price(0.075, 0.30),
}


@dataclass(frozen=True, slots=True)
class PriceTable:
    prices: Mapping[str, Price]
    cached_input_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.cached_input_fraction <= 1.0:
            raise ValueError("cached_input_fraction must be in [0, 1]")

    @classmethod
    def with_defaults(
        cls, overrides: Mapping[str, Price] | None = None, *, cached_input_fraction: float = 0.5
    ) -> PriceTable:
        return cls({**DEFAULT_PRICES, **(overrides or {})}, cached_input_fraction)

    def price(self, model: str) -> Price:
        """The price of `model`; a dated name (`gpt-4o-2024-08-06`) matches its longest prefix."""
        if model in self.prices:
            return self.prices[model]
        matches = [name for name in self.prices if model.startswith(name + "-")]
        if not matches:
            raise ConfigError("prices", f"no price for model {model!r}; add it under prices:")
        return self.prices[max(matches, key=len)]

    def deployment(
        self, provider: str, model: str, context_tokens: int | None = None
    ) -> Deployment:
        price = self.price(model)
        return Deployment(
            provider, model, price.input_usd_per_mtok, price.output_usd_per_mtok, context_tokens
        )

    def cost(self, usage: Usage, deployment: Deployment) -> float:
        return cost(usage, deployment, cached_input_fraction=self.cached_input_fraction)

    def baseline_cost(self, usage: Usage, baseline: Deployment) -> float:
        return self.cost(usage, baseline)


DEFAULT_PRICE_TABLE = PriceTable.with_defaults()


def cost(usage: Usage, deployment: Deployment, *, cached_input_fraction: float = 0.5) -> float:
    """USD for `usage` on `deployment`."""
    cached = min(max(usage.cached_input_tokens, 0), max(usage.input_tokens, 0))
    fresh = max(usage.input_tokens, 0) - cached
    input_usd = (fresh + cached * cached_input_fraction) * deployment.input_usd_per_mtok
    output_usd = max(usage.output_tokens, 0) * deployment.output_usd_per_mtok
    return (input_usd + output_usd) / _PER


def baseline_cost(
    usage: Usage, baseline: Deployment, *, cached_input_fraction: float = 0.5
) -> float:
    """USD the same tokens would have cost on the baseline (always-premium) deployment."""
    return cost(usage, baseline, cached_input_fraction=cached_input_fraction)


def estimate_cost(deployment: Deployment, input_tokens: int, output_tokens: int) -> float:
    """An upper-ish estimate before the call (no cache discount)."""
    return cost(Usage(input_tokens, output_tokens), deployment)
