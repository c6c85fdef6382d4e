"""Per-call resilience: the retry policy and the per-provider circuit breaker.

Both are small and free of I/O; the cascade driver applies them.
"""

from sluice.resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from sluice.resilience.retry import GiveUp, Retry, RetryDecision, RetryPolicy

__all__ = [
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "GiveUp",
    "Retry",
    "RetryDecision",
    "RetryPolicy",
]
