"""A circuit breaker per provider that opens on a failure RATE, and the registry that holds them.

    CLOSED ──rate ≥ failure_rate over window_s, ≥ minimum_calls──▶ OPEN ──cooldown──▶ HALF_OPEN
      ▲                                                              ▲                   │
      └──────────────── enough of the probes succeed ────────────────┼───────────────────┤
                                                                     └─ too many fail ───┘

Why a rate and not a count (resilience4j's TIME_BASED window, Envoy's
failure_percentage): a count of failures trips any busy sidecar on a partial
fault (5 failures in 30 s is 0.3 % of 50 calls/s), and a tripped breaker sends
all of its traffic to the other providers, which then trip too. Successes
count; below `minimum_calls` in the window the rate says nothing, so the
breaker stays closed.

The window is `_BUCKETS` fixed buckets (memory does not grow with traffic):
an outcome older than `window_s` never counts; one up to one bucket younger may
already have dropped out.

HALF_OPEN lets `half_open_probes` calls through; it closes once enough of them
succeed that the rate among the probes stays below `failure_rate`, and reopens
once enough fail that it cannot. A call cancelled (or not counted: a 429, the
caller's own deadline) hands its slot back with `release()`, so it cannot wedge
the breaker half-open. Each reopening without a close in between doubles the
cooldown, up to `max_cooldown_s` (Envoy's growing ejection time): a provider
that stays down is probed less and less often.

Panic (`allow_panic`): when every deployment that could serve a request is
refused, the cascade may still call the least-bad one (Envoy's panic
threshold), so a partial fault does not become a total outage. It is bounded:
until one panic call succeeds in an open period, at most `half_open_probes`
panic calls may be in flight, and after max(half_open_probes, minimum_calls)
failed ones the breaker refuses panic calls too until its next half-open. So a
provider that is really down costs a few calls per cooldown (and the cooldown
grows), not one per request; one that fails 30 % of calls is practically never
cut off that way (20 failures in a row: 0.3²⁰).

Single-threaded by design (one asyncio loop); the clock is injectable so tests
drive the window and the cooldown without sleeping.

A fleet shares "open" (never "closed") through a `HealthBoard`
(resilience/health.py): the registry publishes each opening with its cooldown,
and `admit` refuses a provider another pod holds open, until that expires.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sluice.resilience.health import HealthBoard, LocalHealth

# Buckets per window: a 30 s window slides in 3 s steps.
_BUCKETS = 10


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Defaults in the style of resilience4j (rate 50 %, a minimum of calls) and Envoy."""

    failure_rate: float = 0.5
    minimum_calls: int = 20
    window_s: float = 30.0
    cooldown_s: float = 15.0
    max_cooldown_s: float = 120.0
    half_open_probes: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be in (0, 1]")
        if self.minimum_calls < 1 or self.half_open_probes < 1:
            raise ValueError("minimum_calls and half_open_probes must be ≥ 1")
        if self.window_s <= 0 or self.cooldown_s < 0 or self.max_cooldown_s < 0:
            raise ValueError("window_s must be > 0; cooldown_s and max_cooldown_s ≥ 0")

    @property
    def probe_failures_to_reopen(self) -> int:
        """Failed probes that put the probes' failure rate at or over `failure_rate`."""
        return max(1, math.ceil(self.failure_rate * self.half_open_probes - 1e-9))


# (provider name, old state, new state): for metrics and logs.
TransitionListener = Callable[[str, BreakerState, BreakerState], None]


class _Window:
    """Calls and failures over the last `span_s` seconds, in fixed buckets."""

    def __init__(self, span_s: float) -> None:
        self._width = span_s / _BUCKETS
        self._calls = [0] * _BUCKETS
        self._failures = [0] * _BUCKETS
        self._head: int | None = None  # the absolute number of the newest bucket
        self.calls = 0
        self.failures = 0

    def add(self, now: float, *, failed: bool) -> None:
        slot = self.advance(now) % _BUCKETS
        self._calls[slot] += 1
        self.calls += 1
        if failed:
            self._failures[slot] += 1
            self.failures += 1

    def advance(self, now: float) -> int:
        """Drop the buckets that slid out of the window; the current bucket's number."""
        index = math.floor(now / self._width)
        if self._head is None or index - self._head >= _BUCKETS:
            self.clear()
        elif index > self._head:
            for i in range(self._head + 1, index + 1):
                slot = i % _BUCKETS
                self.calls -= self._calls[slot]
                self.failures -= self._failures[slot]
                self._calls[slot] = self._failures[slot] = 0
        if self._head is None or index > self._head:
            self._head = index
        return self._head

    def clear(self) -> None:
        self._calls = [0] * _BUCKETS
        self._failures = [0] * _BUCKETS
        self.calls = self.failures = 0


class CircuitBreaker:
    """Measures one provider's failure rate and refuses calls while it is down."""

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
        self._window = _Window(self.config.window_s)
        self._opened_at = 0.0
        self._cooldown = self.config.cooldown_s
        self._trips = 0  # openings since the last close: each doubles the cooldown
        self._trip_rate = 0.0
        # HALF_OPEN: slots handed out, and the results of the probes.
        self._probes = self._probe_ok = self._probe_failed = 0
        # Panic calls in this open period.
        self._panic_in_flight = self._panic_ok = self._panic_failed = 0

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN turns HALF_OPEN here once the cooldown has passed)."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._cooldown:
            self._probes = self._probe_ok = self._probe_failed = 0
            self._set(BreakerState.HALF_OPEN)
        return self._state

    @property
    def cooldown_s(self) -> float:
        """How long the breaker stays open after its latest trip."""
        return self._cooldown

    @property
    def failure_rate(self) -> float:
        """The best estimate of the provider's failure rate now (0 before any call).

        Closed: over the window. Open: over this period's panic calls if there
        were any, else the rate that tripped it. Used to pick the least-bad
        deployment in a panic.
        """
        if self._state is BreakerState.CLOSED:
            self._window.advance(self._clock())
            calls = self._window.calls
            return self._window.failures / calls if calls else 0.0
        panics = self._panic_ok + self._panic_failed
        return self._panic_failed / panics if panics else self._trip_rate

    def allow(self) -> bool:
        """May a call start now? In HALF_OPEN this takes one probe slot."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_probes:
            self._probes += 1
            return True
        return False

    def allow_panic(self) -> bool:
        """May a call start although `allow()` refused, because nothing else can serve?

        Report its result with `panic=True`.
        """
        if self.state is not BreakerState.CLOSED and self._panic_ok == 0:
            # No sign of life in this open period yet: probe-sized, not the whole load.
            cfg = self.config
            busy = self._panic_in_flight >= cfg.half_open_probes
            if busy or self._panic_failed >= max(cfg.half_open_probes, cfg.minimum_calls):
                return False
        self._panic_in_flight += 1
        return True

    def record_success(self, *, panic: bool = False) -> None:
        self._record(failed=False, panic=panic)

    def record_failure(self, *, panic: bool = False) -> None:
        self._record(failed=True, panic=panic)

    def release(self, *, panic: bool = False) -> None:
        """Hand back the slot of a call that ended without a verdict (cancelled, a 429, …)."""
        if panic:
            self._panic_in_flight = max(self._panic_in_flight - 1, 0)
        elif self._state is BreakerState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def _record(self, *, failed: bool, panic: bool) -> None:
        state = self.state
        now = self._clock()
        if panic:
            self._panic_in_flight = max(self._panic_in_flight - 1, 0)
            if failed:
                self._panic_failed += 1
            else:
                self._panic_ok += 1
            if state is not BreakerState.CLOSED:
                return  # evidence for this open period's panic calls, not a probe
        if state is BreakerState.CLOSED:
            self._window.add(now, failed=failed)
            window = self._window
            if window.calls >= self.config.minimum_calls:
                rate = window.failures / window.calls
                if rate >= self.config.failure_rate:
                    self._trip(now, rate)
        elif state is BreakerState.HALF_OPEN:
            self._probe_result(now, failed=failed)
        # In OPEN: a late result of a call admitted before the trip; the cooldown decides.

    def _probe_result(self, now: float, *, failed: bool) -> None:
        cfg = self.config
        reopen_at = cfg.probe_failures_to_reopen
        if failed:
            self._probe_failed += 1
            if self._probe_failed >= reopen_at:
                probes = self._probe_ok + self._probe_failed
                self._trip(now, self._probe_failed / probes)
        else:
            self._probe_ok += 1
            if self._probe_ok > cfg.half_open_probes - reopen_at:
                self._close()

    def _trip(self, now: float, rate: float) -> None:
        cfg = self.config
        self._trips += 1
        growth = 2.0 ** min(self._trips - 1, 32)
        self._cooldown = min(cfg.cooldown_s * growth, max(cfg.max_cooldown_s, cfg.cooldown_s))
        self._opened_at = now
        self._trip_rate = rate
        self._window.clear()
        self._probes = self._probe_ok = self._probe_failed = 0
        self._panic_in_flight = self._panic_ok = self._panic_failed = 0
        self._set(BreakerState.OPEN)

    def _close(self) -> None:
        self._trips = 0
        self._cooldown = self.config.cooldown_s
        self._window.clear()
        self._panic_in_flight = self._panic_ok = self._panic_failed = 0
        self._set(BreakerState.CLOSED)

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
        board: HealthBoard | None = None,
    ) -> None:
        self._config = config or BreakerConfig()
        self._overrides = dict(overrides or {})
        self._clock = clock
        self._on_change = on_change
        self.board: HealthBoard = board or LocalHealth()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, provider: str) -> CircuitBreaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = CircuitBreaker(
                provider,
                self._overrides.get(provider, self._config),
                clock=self._clock,
                on_change=self._changed,
            )
            self._breakers[provider] = breaker
        return breaker

    def admit(self, provider: str, *, panic: bool = False) -> bool:
        """May a call to `provider` start? Report its result to `get(provider)`.

        Refused while this pod's breaker or the fleet's board holds it open. A panic
        call (every deployment was refused) asks only the local breaker's bounded
        exception: the fleet's view must not turn a partial fault into an outage either.
        """
        breaker = self.get(provider)
        if panic:
            return breaker.allow_panic()
        return self.board.open_for(provider) <= 0 and breaker.allow()

    def _changed(self, provider: str, old: BreakerState, new: BreakerState) -> None:
        if new is BreakerState.OPEN:
            self.board.publish_open(provider, self.get(provider).cooldown_s)
        if self._on_change is not None:
            self._on_change(provider, old, new)

    def states(self) -> dict[str, BreakerState]:
        """Every known provider's state, for the circuit-state gauge."""
        return {name: b.state for name, b in sorted(self._breakers.items())}
