"""Request-path counters per namespace, for the GetStats RPC (`Stats.requests`).

Prometheus has the same figures as labelled series; this tally exists so an
application can read its own namespace's numbers over the API without a
metrics stack. Counts live in memory and start at zero on every start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Namespaces are the caller's strings: past this many distinct ones, new ones
# are folded into one bucket so a caller cannot grow the daemon's memory.
MAX_NAMESPACES: Final = 4096
OVERFLOW: Final = "\x00other"  # never a valid namespace ([A-Za-z0-9._-])


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """What `Stats.requests` reports: completions that reached the cache, and their outcome."""

    requests: int = 0
    escalations: int = 0
    fallbacks: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(
            self.requests + other.requests,
            self.escalations + other.escalations,
            self.fallbacks + other.fallbacks,
            self.errors + other.errors,
            self.cost_usd + other.cost_usd,
            self.baseline_cost_usd + other.baseline_cost_usd,
        )


class RequestTally:
    def __init__(self, max_namespaces: int = MAX_NAMESPACES) -> None:
        self.max_namespaces = max_namespaces
        self._by_namespace: dict[str, RequestCounts] = {}

    def add(
        self,
        namespace: str,
        *,
        escalations: int,
        fallbacks: int,
        failed: bool,
        cost_usd: float,
        baseline_cost_usd: float = 0.0,
    ) -> None:
        """Count one finished completion (answered, failed or cancelled)."""
        key = namespace
        if key not in self._by_namespace and len(self._by_namespace) >= self.max_namespaces:
            key = OVERFLOW
        now = self._by_namespace.get(key, RequestCounts())
        one = RequestCounts(1, escalations, fallbacks, int(failed), cost_usd, baseline_cost_usd)
        self._by_namespace[key] = now + one

    def counts(self, namespace: str | None = None) -> RequestCounts:
        """One namespace's counts, or every namespace's together (None)."""
        if namespace is not None:
            return self._by_namespace.get(namespace, RequestCounts())
        total = RequestCounts()
        for counts in self._by_namespace.values():
            total += counts
        return total
