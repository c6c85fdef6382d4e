"""Builds the cascade's dependencies from Settings: providers, breakers, retry, scorer, budget.

Part of the composition root (app.py), split out to keep each file readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import aiohttp

from sluice.cascade.budget import BudgetGuard, BudgetLimit, ExhaustedAction, InMemoryBudgetGuard
from sluice.cascade.confidence import CombinedScorer, FormatScorer, LogprobScorer, Scorer
from sluice.cascade.learned import LearnedScorer, TierScorer
from sluice.cascade.plan import Catalogue
from sluice.config import ProviderSettings, Settings
from sluice.errors import ConfigError
from sluice.pipeline import ModelPath
from sluice.providers.base import Provider
from sluice.providers.factory import ProviderSpec, Secret, build_provider
from sluice.resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState
from sluice.resilience.health import HealthBoard, LocalHealth
from sluice.resilience.ratelimit import LocalRateLimits, ProviderLimit, RateGate
from sluice.resilience.retry import RetryPolicy
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.providers")
_STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def api_key(name: str, p: ProviderSettings, secrets: Mapping[str, str]) -> Secret | None:
    if p.api_key_file is not None:
        try:
            return Secret(p.api_key_file.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"providers.{name}.api_key_file", f"cannot read it: {exc.strerror}"
            ) from None
    if p.api_key_env:
        value = secrets.get(p.api_key_env)
        if not value:
            # Fatal, as an unreadable key file is: a pod whose Secret did not reach its
            # environment would otherwise start and answer every call with the provider's 401.
            raise ConfigError(
                f"providers.{name}.api_key_env",
                f"the environment variable {p.api_key_env} is not set or empty; set it, or "
                "remove api_key_env for a provider that needs no key",
            )
        return Secret(value)
    return None


def build_providers(
    settings: Settings, secrets: Mapping[str, str], session: aiohttp.ClientSession
) -> dict[str, Provider]:
    return {
        name: build_provider(
            ProviderSpec(
                name=name, kind=p.kind, base_url=p.base_url,
                api_key=api_key(name, p, secrets), extra_headers=p.headers,
            ),
            session,
        )
        for name, p in settings.providers.items()
    }  # fmt: skip


def probability_scorer(settings: Settings) -> Scorer:
    conf = settings.cascade.confidence
    default: Scorer = (
        LogprobScorer(conf.a, conf.b, conf.c, conf.prior)
        if conf.learned_path is None
        else _learned(conf.learned_path, "cascade.confidence.learned_path")
    )
    if not conf.learned_by_model:
        return default
    key = "cascade.confidence.learned_by_model"
    return TierScorer(
        {m: _learned(p, f"{key}.{m}") for m, p in conf.learned_by_model.items()}, other=default
    )


def _learned(path: Path, key: str) -> LearnedScorer:
    try:
        return LearnedScorer.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(key, f"cannot load {path}: {exc}") from None


class SharedState(Protocol):
    """Where budgets, rate limits and provider health live beyond this pod (fleet mode).

    Each takes the pod's own policy object and returns the one the cascade uses.
    """

    def budget(self, local: InMemoryBudgetGuard) -> BudgetGuard: ...

    def limits(self, limits: Mapping[str, ProviderLimit]) -> RateGate: ...

    def board(self) -> HealthBoard: ...


def provider_limits(settings: Settings) -> dict[str, ProviderLimit]:
    return {
        name: ProviderLimit(p.rpm, p.tpm)
        for name, p in settings.providers.items()
        if p.rpm is not None or p.tpm is not None
    }


def build_model_path(
    settings: Settings,
    providers: Mapping[str, Provider],
    metrics: Metrics,
    *,
    shared: SharedState | None = None,
) -> ModelPath:
    """The cascade's dependencies; `shared` (fleet mode) keeps budgets, limits and health
    in Redis, standalone they are this process's own."""
    c = settings.cascade

    def on_change(provider: str, old: BreakerState, new: BreakerState) -> None:
        metrics.circuit_state.labels(provider).set(_STATE_VALUE[new])
        breaker = breakers.get(provider)
        # The rate that tripped it and how long it stays open: what an operator asks first.
        log.warning(
            "circuit_breaker", provider=provider, old=old.value, new=new.value,
            failure_rate=round(breaker.failure_rate, 3), cooldown_s=breaker.cooldown_s,
        )  # fmt: skip

    cb = c.breaker
    breakers = BreakerRegistry(
        BreakerConfig(
            failure_rate=cb.failure_rate, minimum_calls=cb.minimum_calls, window_s=cb.window_s,
            cooldown_s=cb.cooldown_s, max_cooldown_s=cb.max_cooldown_s,
            half_open_probes=cb.probes,
        ),
        on_change=on_change,
        board=shared.board() if shared is not None else LocalHealth(),
    )  # fmt: skip
    for name in providers:
        metrics.circuit_state.labels(name).set(0)
    b = settings.budgets
    local = InMemoryBudgetGuard(
        {ns: BudgetLimit(v.limit_usd, v.window_s) for ns, v in b.namespaces.items()},
        default=BudgetLimit(b.default.limit_usd, b.default.window_s) if b.default else None,
        soft_fraction=b.soft_fraction,
        on_exhausted=ExhaustedAction(b.on_exhausted),
    )
    budget: BudgetGuard = local if shared is None else shared.budget(local)
    limits = provider_limits(settings)
    gate: RateGate = LocalRateLimits(limits) if shared is None else shared.limits(limits)
    return ModelPath(
        catalogue=Catalogue.from_settings(settings),
        providers=providers,
        breakers=breakers,
        retry=RetryPolicy(c.retry.max_retries, c.retry.base_s, c.retry.cap_s,
                          c.retry.max_retry_after_s),
        scorer=CombinedScorer((FormatScorer(), probability_scorer(settings))),
        budget=budget,
        limits=gate,
    )  # fmt: skip
