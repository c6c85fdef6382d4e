"""Cascade values: what can serve (deployments, tiers), what happened (attempts), the result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sluice.types import Completion, Usage


@dataclass(frozen=True, slots=True)
class Deployment:
    """One model at one provider, with its price in USD per million tokens."""

    provider: str
    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    context_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Tier:
    """Deployments of comparable quality, tried in order (cross-provider fallback)."""

    name: str
    deployments: tuple[Deployment, ...]
    threshold: float = 0.75
    timeout_s: float = 30.0
    max_output_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.deployments:
            raise ValueError(f"tier {self.name!r}: at least one deployment is required")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"tier {self.name!r}: threshold must be in [0, 1]")
        if self.timeout_s <= 0:
            raise ValueError(f"tier {self.name!r}: timeout_s must be > 0")


class AttemptOutcome(enum.Enum):
    ACCEPTED = "accepted"  # answered with confidence ≥ the tier's threshold
    LOW_CONFIDENCE = "low_confidence"  # answered below the threshold
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    PROVIDER_ERROR = "provider_error"  # 5xx, outage, auth; or skipped after one
    REJECTED = "rejected"  # bad request or prompt too long; or skipped for its context size
    CIRCUIT_OPEN = "circuit_open"  # skipped: the provider's breaker refused the call
    OVER_BUDGET = "over_budget"  # skipped: the estimated cost exceeds what is left
    CANCELLED = "cancelled"  # reserved: the caller went away during the call


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider call, or one deployment skipped without a call.

    A skip has latency 0, no usage, and an `error` that starts with "skipped:".
    """

    provider: str
    model: str
    tier: str
    outcome: AttemptOutcome
    confidence: float | None = None
    latency_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    error: str = ""
    retry: int = 0  # 0 for the first call to this deployment, 1 for the first retry, …


@dataclass(frozen=True, slots=True)
class ServedBy:
    provider: str
    model: str
    tier: str


@dataclass(frozen=True, slots=True)
class CascadeResult:
    completion: Completion
    served_by: ServedBy
    attempts: tuple[Attempt, ...]
    cost_usd: float  # every call of the chain, not only the one served
    baseline_cost_usd: float  # the served answer's tokens on the baseline deployment
    confidence: float | None
    degraded: bool = False
    degraded_reason: str = ""


@dataclass(frozen=True, slots=True)
class CascadePlan:
    """What the router decided: every configured tier (cheapest first) and where to start.

    The budget guard may move the start down or drop the tiers above it, which
    is why the plan carries the tiers below the routed one too.
    """

    tiers: tuple[Tier, ...]
    start: int = 0
    namespace: str = "default"
    max_escalations: int = 3
    # Priced for `baseline_cost_usd`; None: the first deployment of the last tier.
    baseline: Deployment | None = None
    # A per-request cost cap (a routing hint), on top of the namespace budget.
    max_cost_usd: float | None = None

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a plan needs at least one tier")
        if not 0 <= self.start < len(self.tiers):
            raise ValueError(f"start {self.start} is outside the {len(self.tiers)} tiers")
        if self.max_escalations < 0:
            raise ValueError("max_escalations must be ≥ 0")

    @property
    def baseline_deployment(self) -> Deployment:
        return self.baseline or self.tiers[-1].deployments[0]
