"""A circuit breaker per provider, and the registry that holds them.

    CLOSED ──N failures within window_s──▶ OPEN ──cooldown_s──▶ HALF_OPEN
      ▲                                     ▲                      │
      └───────────── a probe succeeds ──────┼──────────────────────┤
                                            └── a probe fails ─────┘

In HALF_OPEN at most `half_open_probes` calls are let through at a time; the
first result decides. A call that was cancelled hands its probe slot back with
`release()`, so a cancelled probe cannot wedge the breaker half-open.

Single-threaded by design (one asyncio loop); the clock is injectable so tests
drive the cooldown without sleeping.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    window_s: float = 30.0
    cooldown_s: float = 15.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be ≥ 1")
        if self.window_s <= 0 or self.cooldown_s < 0:
            raise ValueError("window_s must be > 0 and cooldown_s ≥ 0")


# (provider name, old state, new state): for metrics and logs.
TransitionListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """Counts failures of one provider and refuses calls while it is down."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: TransitionListener | None = None,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN turns HALF_OPEN here once the cooldown has passed)."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.config.cooldown_s
        ):
            self._probes = 0
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        """May a call start now? In HALF_OPEN this takes one probe slot."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_probes:
            self._probes += 1
            return True
        return False

    def record_success(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._failures.clear()
            self._set(BreakerState.CLOSED)
        # In OPEN: a late answer from a call admitted before the trip; the
        # cooldown still decides.

    def record_failure(self) -> None:
        state = self.state
        now = self._clock()
        if state is BreakerState.HALF_OPEN:
            self._trip(now)
        elif state is BreakerState.CLOSED:
            self._failures.append(now)
            while self._failures and self._failures[0] <= now - self.config.window_s:
                self._failures.popleft()
            if len(self._failures) >= self.config.failure_threshold:
                self._trip(now)

    def release(self) -> None:
        """Hand back a probe slot taken by `allow()` for a call that never finished."""
        if self._state is BreakerState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def _trip(self, now: float) -> None:
        self._opened_at = now
        self._failures.clear()
        self._probes = 0
        self._set(BreakerState.OPEN)

    def _set(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is not new and self._on_change is not None:
            self._on_change(self.name, old, new)


class BreakerRegistry:
    """One breaker per provider name, created on first use."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        overrides: Mapping[str, BreakerConfig] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_change: TransitionListener | None = None,
    ) -> None:
        self._config = config or BreakerConfig()
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._on_change = on_change
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, provider: str) -> CircuitBreaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = CircuitBreaker(
                provider,
                self._overrides.get(provider, self._config),
                clock=self._clock,
                on_change=self._on_change,
            )
            self._breakers[provider] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        """Every known provider's state, for the circuit-state gauge."""
        return {name: b.state for name, b in sorted(self._breakers.items())}
