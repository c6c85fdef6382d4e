"""One place that turns a finished request into metrics and its one log line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluice.cascade.types import Attempt, AttemptOutcome
from sluice.telemetry.logging import get_logger, note_request_line
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.request")

_FAILED = frozenset(
    {
        AttemptOutcome.TIMEOUT,
        AttemptOutcome.RATE_LIMITED,
        AttemptOutcome.PROVIDER_ERROR,
        AttemptOutcome.REJECTED,
        AttemptOutcome.CIRCUIT_OPEN,
        AttemptOutcome.CANCELLED,
    }
)


def record_attempts(metrics: Metrics, attempts: Sequence[Attempt]) -> tuple[int, int]:
    """Provider metrics for every attempt; returns (escalations, fallbacks)."""
    escalations = fallbacks = 0
    for i, a in enumerate(attempts):
        skipped = a.error.startswith("skipped:")
        metrics.provider_calls.labels(a.provider, a.model, a.outcome.value).inc()
        if not skipped:
            metrics.model_latency.labels(a.provider, a.model).observe(a.latency_s)
        for kind, n in (
            ("input", a.usage.input_tokens),
            ("output", a.usage.output_tokens),
            ("cached_input", a.usage.cached_input_tokens),
        ):
            if n:
                metrics.tokens.labels(a.model, kind).inc(n)
        if a.cost_usd:
            metrics.cost_usd.labels(a.model).inc(a.cost_usd)
        later = attempts[i + 1 :]
        if a.outcome is AttemptOutcome.LOW_CONFIDENCE and later:
            escalations += 1
            metrics.escalations.labels(a.tier, later[0].tier).inc()
        elif (
            a.outcome in _FAILED
            and later
            and (later[0].provider, later[0].model)
            != (
                a.provider,
                a.model,
            )
        ):
            fallbacks += 1
            metrics.fallbacks.labels(a.provider).inc()
    return escalations, fallbacks


def attempts_summary(attempts: Sequence[Attempt]) -> list[dict[str, Any]]:
    return [
        {
            "provider": a.provider,
            "model": a.model,
            "tier": a.tier,
            "outcome": a.outcome.value,
            "confidence": None if a.confidence is None else round(a.confidence, 3),
            "ms": round(a.latency_s * 1000, 1),
            "cost_usd": round(a.cost_usd, 8),
            "retry": a.retry,
            "error": a.error or None,
        }
        for a in attempts
    ]


def log_request(**fields: Any) -> None:
    log.info("request", **fields)
    note_request_line()  # the front then writes no second line for this request
