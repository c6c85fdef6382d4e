"""Fake cheap / medium / premium tiers for `sluice serve --demo`: no keys, no network.

Each tier is a `Provider` that answers in process after a pause, with token counts and
log-probabilities, so the real cascade, cache, pricing and savings run on top of it. The
models carry real names so that the built-in list prices apply (`cascade/pricing.py`:
gpt-4o-mini 0.15 / 0.60, claude-3-haiku 0.25 / 1.25, gpt-4o 2.50 / 10.00 USD per 1M input /
output tokens, the providers' published list prices); every answer starts with `[demo …]`
and the providers are named `fake-…`, so no one mistakes them for the real thing.

How "hard" a question is decides the confidence: each difficulty word ("prove", "derive",
"step by step", …) makes the cheaper tiers less sure, so a hard question escalates.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sluice.config import Settings, parse_settings
from sluice.errors import ConfigError
from sluice.providers.base import Provider
from sluice.types import Completion, ProviderRequest, StreamEvent, Usage

BANNER: Final = (
    "DEMO MODE: fake providers answer every completion (answers start with [demo]); "
    "no key is read, nothing leaves this machine, nothing is written to disk"
)


@dataclass(frozen=True, slots=True)
class FakeTier:
    tier: str
    provider: str
    model: str
    # Seconds before the answer (a short answer's typical wait, chosen for the demo, not
    # measured) and per output token when streaming.
    latency_s: float
    # How many difficulty words it still answers confidently (premium: all).
    skill: int


TIERS: Final = (
    FakeTier("cheap", "fake-cheap", "gpt-4o-mini", latency_s=0.35, skill=0),
    FakeTier("medium", "fake-medium", "claude-3-haiku", latency_s=0.6, skill=1),
    FakeTier("premium", "fake-premium", "gpt-4o", latency_s=1.2, skill=99),
)

_HARD: Final = re.compile(
    r"\b(prove|proof|derive|step by step|why|explain|compare|trade-?offs?|optimi[sz]e)\b",
    re.IGNORECASE,
)
_CANNED: Final[Mapping[str, str]] = {
    "delete a file": "Use `rm path/to/file`; `rm -i` asks first, and `rm -r` removes a folder.",
    "remove a file": "Use `rm path/to/file`; `rm -i` asks first, and `rm -r` removes a folder.",
    "infinitely many primes": (
        "Suppose finitely many primes p1…pn. N = p1·…·pn + 1 leaves remainder 1 when divided "
        "by each of them, so N has a prime factor outside the list: a contradiction."
    ),
}
# Log-probability per token: near 0 is confident (scored ≈ 0.86 by the default scorer),
# -0.6 with a -6 low is unsure (≈ 0.2, below the tiers' 0.75 threshold).
_SURE: Final = (-0.05, -2.0)
_UNSURE: Final = (-0.6, -6.0)


def _tokens(text: str) -> int:
    """About four characters a token, as the providers' tokenizers average on English."""
    return max(1, (len(text) + 3) // 4)


class FakeProvider:
    """One fake tier; satisfies `sluice.providers.base.Provider`."""

    def __init__(self, tier: FakeTier, *, speed: float = 1.0) -> None:
        self._tier = tier
        self._speed = speed

    @property
    def name(self) -> str:
        return self._tier.provider

    def _answer(self, request: ProviderRequest) -> tuple[str, tuple[float, ...], Usage]:
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        canned = next((a for k, a in _CANNED.items() if k in question.lower()), None)
        body = canned or f"A made-up answer to: {question[:200]}"
        text = f"[demo {self._tier.model}] {body}"
        sure = len(_HARD.findall(question)) <= self._tier.skill
        mean, low = _SURE if sure else _UNSURE
        out = _tokens(text)
        # One token at the low, the rest at whatever keeps the mean (answers are > 1 token).
        rest = (mean * out - low) / max(1, out - 1)
        logprobs = (low, *[rest] * (out - 1))
        prompt = sum(_tokens(m.content) + 4 for m in request.messages)
        return text, logprobs, Usage(input_tokens=prompt, output_tokens=out)

    async def complete(self, request: ProviderRequest) -> Completion:
        text, logprobs, usage = self._answer(request)
        await asyncio.sleep(self._tier.latency_s * self._speed)
        return Completion(
            text=text, finish_reason="stop", usage=usage, model=request.model,
            logprobs=logprobs if request.logprobs else None,
        )  # fmt: skip

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        text, logprobs, usage = self._answer(request)
        await asyncio.sleep(self._tier.latency_s * self._speed / 2)
        words = text.split(" ")
        for i, word in enumerate(words):
            await asyncio.sleep(0.01 * self._speed)
            # Every token's log-probability rides on the first piece: the scorer reads them all.
            first = i == 0 and request.logprobs
            yield StreamEvent(delta=word if i == 0 else " " + word,
                              logprobs=logprobs if first else ())  # fmt: skip
        yield StreamEvent(finish_reason="stop", usage=usage, done=True)

    async def aclose(self) -> None:
        return None


def demo_settings(base: Settings) -> Settings:
    """`base` with the fake tiers; refuses a config that would mix them with real ones."""
    clashes = {
        "providers": bool(base.providers),
        "tiers": bool(base.tiers),
        "cascade.baseline": base.cascade.baseline is not None,
        # A snapshot or a fleet would keep the fake answers and serve them later as real.
        "cache.snapshot_dir": base.cache.snapshot_dir is not None,
        "fleet.enabled": base.fleet.enabled,
    }
    for key, set_ in clashes.items():
        if set_:
            raise ConfigError(
                key,
                "--demo brings its own fake providers and keeps its answers in memory only; "
                "a config that sets this would mix fake answers with real ones (in the cache, "
                "the budgets and the savings). Drop --demo to serve that config, or remove "
                f"{key} from it to try the demo",
            )
    data: dict[str, Any] = base.model_dump(mode="python")
    # .invalid never resolves (RFC 2606): the fakes answer in process, nothing is dialled.
    data["providers"] = {
        t.provider: {"kind": "openai", "base_url": "http://fake.invalid/v1"} for t in TIERS
    }
    data["tiers"] = [
        {"name": t.tier, "deployments": [{"provider": t.provider, "model": t.model}]} for t in TIERS
    ]
    return parse_settings(data, "--demo")


def build_fake_providers(
    settings: Settings, secrets: Mapping[str, str], session: object, *, speed: float = 1.0
) -> dict[str, Provider]:
    """The App's provider builder in demo mode: one fake per tier, whatever the session."""
    del settings, secrets, session  # the fakes need no endpoint, key or connection pool
    return {t.provider: FakeProvider(t, speed=speed) for t in TIERS}
