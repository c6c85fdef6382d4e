"""ProviderSpec validation and the factory table."""

from __future__ import annotations

import aiohttp
import pytest

from sluice.providers.anthropic import AnthropicProvider
from sluice.providers.factory import ProviderSpec, Secret, build_provider
from sluice.providers.gemini import GeminiProvider
from sluice.providers.openai import OpenAIProvider

KEY = "sk-test-SECRET-123"


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("openai", OpenAIProvider), ("anthropic", AnthropicProvider), ("gemini", GeminiProvider)],
)
async def test_build_provider_picks_the_protocol(kind: str, cls: type) -> None:
    spec = ProviderSpec("main", kind, "https://example.test/", Secret(KEY))  # type: ignore[arg-type]  # parametrized Literal
    async with aiohttp.ClientSession() as session:
        provider = build_provider(spec, session)

        assert isinstance(provider, cls)
        assert provider.name == "main"
        assert KEY not in repr(provider)
        assert "https://example.test" in repr(provider)
        await provider.aclose()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "", "kind": "openai", "base_url": "http://x"}, "name"),
        ({"name": "p", "kind": "openai", "base_url": "ftp://x"}, "base_url"),
        ({"name": "p", "kind": "cohere", "base_url": "http://x"}, "kind"),
    ],
)
def test_invalid_specs_are_rejected(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProviderSpec(**fields)  # type: ignore[arg-type]  # deliberately wrong values


def test_spec_is_frozen_hashable_and_hides_secrets() -> None:
    spec = ProviderSpec("p", "openai", "http://x", Secret(KEY), extra_headers={"X-Token": KEY})

    assert KEY not in repr(spec)
    assert hash(spec) == hash(ProviderSpec("p", "openai", "http://x", Secret(KEY)))
    with pytest.raises(TypeError):
        spec.extra_headers["X-Other"] = "1"  # type: ignore[index]  # the point: it is read-only
