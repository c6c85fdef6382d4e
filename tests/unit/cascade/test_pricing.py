"""Prices, cost and baseline cost."""

from __future__ import annotations

import pytest

from sluice.cascade.pricing import (
    DEFAULT_PRICE_TABLE,
    Price,
    PriceTable,
    baseline_cost,
    cost,
    estimate_cost,
)
from sluice.errors import ConfigError
from sluice.types import Usage


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4o", (2.50, 10.00)),
        ("claude-3-5-sonnet", (3.00, 15.00)),
        ("gpt-4o-mini", (0.15, 0.60)),
        ("claude-3-haiku", (0.25, 1.25)),
        ("gemini-1.5-flash", (0.075, 0.30)),
        # dated names match the longest prefix
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),
        ("claude-3-5-sonnet-20241022", (3.00, 15.00)),
    ],
)
def test_default_prices(model: str, price: tuple[float, float]) -> None:
    got = DEFAULT_PRICE_TABLE.price(model)
    assert (got.input_usd_per_mtok, got.output_usd_per_mtok) == price


def test_unknown_model_names_the_key() -> None:
    with pytest.raises(ConfigError, match="prices"):
        DEFAULT_PRICE_TABLE.price("gpt-4")  # not a prefix match for gpt-4o
    table = PriceTable.with_defaults({"local-llama": Price(0.0, 0.0)})
    assert table.price("local-llama").input_usd_per_mtok == 0.0


def test_cost() -> None:
    d = DEFAULT_PRICE_TABLE.deployment("openai", "gpt-4o", 128_000)
    assert d.context_tokens == 128_000
    # 1M input at 2.50 + 1M output at 10.00
    assert cost(Usage(1_000_000, 1_000_000), d) == pytest.approx(12.5)
    assert cost(Usage(1000, 500), d) == pytest.approx(0.0025 + 0.005)


def test_cached_input_is_billed_at_a_fraction() -> None:
    d = DEFAULT_PRICE_TABLE.deployment("openai", "gpt-4o")
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cached_input_tokens=400_000)
    assert cost(usage, d) == pytest.approx(0.6 * 2.5 + 0.4 * 2.5 * 0.5)
    assert cost(usage, d, cached_input_fraction=0.1) == pytest.approx(0.6 * 2.5 + 0.4 * 0.25)
    table = PriceTable.with_defaults(cached_input_fraction=0.25)
    assert table.cost(usage, d) == pytest.approx(0.6 * 2.5 + 0.4 * 2.5 * 0.25)
    # more cached than input (a provider quirk) never goes negative
    assert cost(Usage(10, 0, 50), d) == pytest.approx(10 * 2.5 * 0.5 / 1e6)


def test_baseline_is_the_same_tokens_on_the_baseline_deployment() -> None:
    cheap = DEFAULT_PRICE_TABLE.deployment("gemini", "gemini-1.5-flash")
    premium = DEFAULT_PRICE_TABLE.deployment("anthropic", "claude-3-5-sonnet")
    usage = Usage(2000, 1000)
    assert cost(usage, cheap) == pytest.approx((2000 * 0.075 + 1000 * 0.30) / 1e6)
    assert baseline_cost(usage, premium) == pytest.approx((2000 * 3.0 + 1000 * 15.0) / 1e6)
    assert DEFAULT_PRICE_TABLE.baseline_cost(usage, premium) == baseline_cost(usage, premium)


def test_estimate_and_validation() -> None:
    d = DEFAULT_PRICE_TABLE.deployment("openai", "gpt-4o-mini")
    assert estimate_cost(d, 1000, 100) == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    with pytest.raises(ValueError, match="cached_input_fraction"):
        PriceTable({}, cached_input_fraction=1.5)
