"""Build a provider from a small, frozen description of it.

The caller owns the aiohttp session (one per process, shared by every provider) and closes it.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import aiohttp

from sluice.providers._http import HttpProvider, Secret
from sluice.providers.anthropic import AnthropicProvider
from sluice.providers.base import Provider
from sluice.providers.gemini import GeminiProvider
from sluice.providers.openai import OpenAIProvider

__all__ = ["ProviderKind", "ProviderSpec", "Secret", "build_provider"]

ProviderKind = Literal["openai", "anthropic", "gemini"]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider endpoint. `name` is what errors, metrics and the circuit breaker call it."""

    name: str
    kind: ProviderKind
    base_url: str
    api_key: Secret | None = None
    # Sent with every request (organisation ids, gateway tokens); kept out of repr because a
    # gateway token is as secret as the key.
    extra_headers: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("ProviderSpec.name must not be empty")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"ProviderSpec.base_url of {self.name!r} must be an http(s) URL")
        if self.kind not in _BUILDERS:
            raise ValueError(
                f"ProviderSpec.kind of {self.name!r} must be one of {sorted(_BUILDERS)}"
            )
        # Frozen all the way down: nobody can add a header after the spec was validated.
        object.__setattr__(self, "extra_headers", types.MappingProxyType(dict(self.extra_headers)))


_Builder = Callable[..., HttpProvider]
_BUILDERS: Final[Mapping[str, _Builder]] = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
}


def build_provider(spec: ProviderSpec, session: aiohttp.ClientSession) -> Provider:
    return _BUILDERS[spec.kind](
        session,
        name=spec.name,
        base_url=spec.base_url,
        api_key=spec.api_key,
        extra_headers=spec.extra_headers,
    )
