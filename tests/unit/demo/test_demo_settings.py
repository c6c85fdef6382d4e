"""--demo's fake tiers, and why it refuses configs that would mix them with real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice import cli
from sluice.config import parse_settings
from sluice.demo.providers import TIERS, FakeProvider, build_fake_providers, demo_settings
from sluice.errors import ConfigError
from sluice.types import ChatMessage, ProviderRequest

REAL = {
    "providers": {"openai": {"kind": "openai", "base_url": "https://api.openai.com/v1"}},
    "tiers": [{"name": "cheap", "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]}],
}


def test_demo_settings_are_three_priced_tiers_cheapest_first() -> None:
    settings = demo_settings(parse_settings({}))
    assert [t.name for t in settings.tiers] == ["cheap", "medium", "premium"]
    assert set(settings.providers) == set(build_fake_providers(settings, {}, None))


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (REAL, "providers"),
        ({"cache": {"snapshot_dir": "/tmp/x"}}, "cache.snapshot_dir"),
        ({"fleet": {"enabled": True}}, "fleet.enabled"),
    ],
)
def test_demo_refuses_a_config_that_would_mix_fake_and_real(config: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        demo_settings(parse_settings(config))
    assert err.value.key == key
    assert "fake answers" in err.value.message


def test_serve_demo_with_a_production_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "prod.yaml"
    config.write_text(
        "providers:\n  openai: {kind: openai, base_url: 'https://api.openai.com/v1'}\n"
    )
    assert cli.main(["serve", "--demo", "--config", str(config)]) == 2
    assert "providers" in capsys.readouterr().err


async def test_a_hard_question_is_unsure_below_premium_and_every_answer_is_marked() -> None:
    hard = ProviderRequest(
        model="m", messages=(ChatMessage("user", "Prove step by step that 2 is prime."),),
        logprobs=True,
    )  # fmt: skip
    easy = ProviderRequest(model="m", messages=(ChatMessage("user", "Hi?"),), logprobs=True)
    lows = {}
    for tier in TIERS:
        provider = FakeProvider(tier, speed=0.0)
        answer = await provider.complete(hard)
        assert answer.text.startswith(f"[demo {tier.model}]")
        assert answer.logprobs is not None
        lows[tier.tier] = min(answer.logprobs)
        assert min((await provider.complete(easy)).logprobs or (0.0,)) > -3
    assert max(lows["cheap"], lows["medium"]) < -3
    assert lows["premium"] > -3
