"""CircuitBreaker and BreakerRegistry, driven by a fake clock."""

from __future__ import annotations

import pytest

from sluice.resilience.breaker import (
    BreakerConfig,
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(**config: float) -> tuple[CircuitBreaker, FakeClock, list[tuple[str, str]]]:
    clock = FakeClock()
    changes: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        "openai",
        BreakerConfig(**config),  # type: ignore[arg-type]
        clock=clock,
        on_change=lambda _name, old, new: changes.append((old.value, new.value)),
    )
    return breaker, clock, changes


def state(breaker: CircuitBreaker) -> BreakerState:
    # A function call, so mypy does not narrow the property across clock moves.
    return breaker.state


def test_defaults() -> None:
    config = BreakerConfig()
    assert (config.failure_threshold, config.window_s, config.cooldown_s) == (5, 30.0, 15.0)
    assert config.half_open_probes == 1


def test_opens_after_n_failures_within_the_window() -> None:
    breaker, clock, changes = make()
    for _ in range(4):
        breaker.record_failure()
        clock.now += 1
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    assert changes == [("closed", "open")]


def test_failures_outside_the_window_do_not_count() -> None:
    breaker, clock, _ = make()
    for _ in range(4):
        breaker.record_failure()
    clock.now += 30.0
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED


def test_successes_do_not_reset_the_failure_count_in_closed() -> None:
    breaker, _, _ = make(failure_threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN


def test_half_open_after_cooldown_then_closed_on_probe_success() -> None:
    breaker, clock, changes = make(failure_threshold=1)
    breaker.record_failure()
    clock.now += 14.9
    assert state(breaker) is BreakerState.OPEN
    clock.now += 0.1
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # a second caller while the probe is in flight
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_probe_failure_reopens_for_a_full_cooldown() -> None:
    breaker, clock, _ = make(failure_threshold=1)
    breaker.record_failure()
    clock.now += 15
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now += 14
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_k_probes() -> None:
    breaker, clock, _ = make(failure_threshold=1, half_open_probes=3)
    breaker.record_failure()
    clock.now += 15
    assert [breaker.allow() for _ in range(4)] == [True, True, True, False]


def test_released_probe_slot_can_be_reused() -> None:
    breaker, clock, _ = make(failure_threshold=1)
    breaker.record_failure()
    clock.now += 15
    assert breaker.allow()
    breaker.release()  # the probe was cancelled
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()


def test_late_results_while_open_are_ignored() -> None:
    breaker, clock, _ = make(failure_threshold=1)
    breaker.record_failure()
    breaker.record_success()
    assert state(breaker) is BreakerState.OPEN
    breaker.record_failure()
    clock.now += 15
    assert state(breaker) is BreakerState.HALF_OPEN


def test_invalid_config() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerConfig(failure_threshold=0)


def test_registry_keys_by_provider_and_reports_states() -> None:
    clock = FakeClock()
    registry = BreakerRegistry(
        BreakerConfig(failure_threshold=1),
        overrides={"gemini": BreakerConfig(failure_threshold=2)},
        clock=clock,
    )
    assert registry.get("openai") is registry.get("openai")
    registry.get("openai").record_failure()
    registry.get("gemini").record_failure()
    assert registry.states() == {"gemini": BreakerState.CLOSED, "openai": BreakerState.OPEN}
    clock.now += 15
    assert registry.states()["openai"] is BreakerState.HALF_OPEN
