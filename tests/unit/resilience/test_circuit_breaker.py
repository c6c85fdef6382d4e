"""CircuitBreaker and BreakerRegistry, driven by a fake clock."""

from __future__ import annotations

import random

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


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.config.minimum_calls):
        breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN


def test_defaults_follow_resilience4j_and_envoy() -> None:
    config = BreakerConfig()
    assert (config.failure_rate, config.minimum_calls, config.window_s) == (0.5, 20, 30.0)
    assert (config.cooldown_s, config.max_cooldown_s, config.half_open_probes) == (15.0, 120.0, 3)


def test_a_busy_provider_with_a_10_percent_error_rate_stays_closed() -> None:
    # Issue #17's defect: the old breaker counted failures (5 in 30 s), so 50 calls/s with
    # 10 % errors tripped it within a fraction of a second; the rate is far below 50 %.
    breaker, clock, changes = make()
    rng = random.Random(1)
    for _ in range(50 * 120):  # two minutes at 50 calls/s
        assert breaker.allow()
        if rng.random() < 0.10:
            breaker.record_failure()
        else:
            breaker.record_success()
        clock.now += 0.02
    assert state(breaker) is BreakerState.CLOSED
    assert changes == []
    assert 0.05 < breaker.failure_rate < 0.15


def test_the_same_provider_at_60_percent_errors_opens() -> None:
    breaker, clock, _ = make()
    rng = random.Random(2)
    for _ in range(200):
        if not breaker.allow():
            break
        if rng.random() < 0.6:
            breaker.record_failure()
        else:
            breaker.record_success()
        clock.now += 0.02
    assert state(breaker) is BreakerState.OPEN


def test_no_verdict_below_the_minimum_number_of_calls() -> None:
    breaker, _, changes = make(minimum_calls=20)
    for _ in range(19):
        breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED  # 100 % of 19 calls says nothing yet
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert changes == [("closed", "open")]


def test_successes_count_in_the_rate() -> None:
    breaker, _, _ = make(minimum_calls=20, failure_rate=0.5)
    for _ in range(11):
        breaker.record_success()
    for _ in range(9):
        breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED  # 9 of 20 = 45 %
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN  # 11 of 22 = 50 %


def test_the_window_slides() -> None:
    breaker, clock, _ = make(minimum_calls=10, window_s=30.0)
    for _ in range(5):
        breaker.record_success()
    clock.now += 15.0
    for _ in range(4):
        breaker.record_failure()
    clock.now += 15.0  # the successes are 30 s old: out of the window
    breaker.record_failure()
    # 5 calls in the window, below the minimum (without the slide: 5 of 10 failed, open).
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.failure_rate == 1.0
    for _ in range(5):
        breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN  # 10 of 10


def test_a_long_silence_empties_the_window() -> None:
    breaker, clock, _ = make(minimum_calls=5)
    for _ in range(4):
        breaker.record_failure()
    clock.now += 3600.0
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.failure_rate == 1.0  # one call, failed


def test_memory_does_not_grow_with_traffic() -> None:
    breaker, clock, _ = make(minimum_calls=10**9)
    for _ in range(100_000):
        breaker.record_success()
        clock.now += 0.001
    window = breaker._window  # the bucket arrays are the memory
    assert len(window._calls) == len(window._failures) == 10


def test_half_open_after_cooldown_then_closed_when_enough_probes_succeed() -> None:
    breaker, clock, changes = make(minimum_calls=1)
    trip(breaker)
    clock.now += 14.9
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 0.1
    assert state(breaker) is BreakerState.HALF_OPEN
    assert [breaker.allow() for _ in range(4)] == [True, True, True, False]  # 3 probes
    breaker.record_success()
    assert state(breaker) is BreakerState.HALF_OPEN  # 1 of 3 cannot decide
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED  # a third failure would still be 33 % < 50 %
    assert breaker.allow()
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_probes_that_fail_reopen_with_a_doubled_cooldown() -> None:
    breaker, clock, _ = make(minimum_calls=1)
    trip(breaker)
    assert breaker.cooldown_s == 15.0
    clock.now += 15
    assert breaker.allow()
    assert breaker.allow()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) is BreakerState.HALF_OPEN
    breaker.record_failure()  # 2 of 3 probes failed: the rate among them is ≥ 50 %
    assert state(breaker) is BreakerState.OPEN
    assert breaker.cooldown_s == 30.0
    clock.now += 29
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_the_cooldown_grows_up_to_its_cap_and_resets_on_close() -> None:
    breaker, clock, _ = make(minimum_calls=1, half_open_probes=1, max_cooldown_s=50.0)
    trip(breaker)
    seen = []
    for _ in range(4):
        seen.append(breaker.cooldown_s)
        clock.now += breaker.cooldown_s
        assert breaker.allow()
        breaker.record_failure()
    assert seen == [15.0, 30.0, 50.0, 50.0]
    clock.now += breaker.cooldown_s
    assert breaker.allow()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    trip(breaker)
    assert breaker.cooldown_s == 15.0


def test_one_probe_decides_alone() -> None:
    breaker, clock, _ = make(minimum_calls=1, half_open_probes=1)
    trip(breaker)
    clock.now += 15
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED


def test_a_cancelled_probe_hands_its_slot_back() -> None:
    breaker, clock, _ = make(minimum_calls=1, half_open_probes=1)
    trip(breaker)
    clock.now += 15
    assert breaker.allow()
    breaker.release()  # the probe was cancelled, or got a 429: no verdict
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()


def test_late_results_while_open_are_ignored() -> None:
    breaker, clock, _ = make(minimum_calls=1)
    trip(breaker)
    breaker.record_success()
    assert state(breaker) is BreakerState.OPEN
    breaker.record_failure()
    clock.now += 15
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.cooldown_s == 15.0


def test_a_fresh_window_after_closing() -> None:
    breaker, clock, _ = make(minimum_calls=4, half_open_probes=1)
    trip(breaker)
    clock.now += 15
    assert breaker.allow()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED  # 3 calls since the close: below the minimum


def test_panic_is_bounded_until_the_provider_shows_life() -> None:
    breaker, _, _ = make(minimum_calls=1)  # 3 probes
    trip(breaker)
    assert not breaker.allow()
    # Nothing else can serve: up to 3 panic calls may be in flight or have failed.
    assert [breaker.allow_panic() for _ in range(4)] == [True, True, True, False]
    breaker.record_failure(panic=True)
    breaker.release(panic=True)  # one was cancelled: its slot comes back
    assert breaker.allow_panic()
    breaker.record_failure(panic=True)
    breaker.record_failure(panic=True)
    assert not breaker.allow_panic()  # 3 panic calls failed, none answered: treat it as down
    assert state(breaker) is BreakerState.OPEN
    assert breaker.failure_rate == 1.0


def test_panic_calls_are_probe_sized_in_flight_and_minimum_calls_sized_in_failures() -> None:
    breaker, _, _ = make(minimum_calls=5, half_open_probes=2)
    trip(breaker)
    assert [breaker.allow_panic() for _ in range(3)] == [True, True, False]  # 2 at a time
    for _ in range(4):
        breaker.record_failure(panic=True)
        assert breaker.allow_panic()
    breaker.record_failure(panic=True)
    breaker.record_failure(panic=True)
    assert not breaker.allow_panic()  # 6 failed ≥ max(2, 5), none answered


def test_panic_opens_up_once_a_panic_call_succeeds() -> None:
    breaker, clock, _ = make(minimum_calls=1)
    trip(breaker)
    assert breaker.allow_panic()
    breaker.record_success(panic=True)
    assert all(breaker.allow_panic() for _ in range(50))  # the provider answers: let load through
    for _ in range(30):
        breaker.record_failure(panic=True)
    for _ in range(20):
        breaker.record_success(panic=True)
    assert breaker.failure_rate == pytest.approx(30 / 51)
    # Panic results neither close nor reopen it, nor change the cooldown: the probes decide.
    assert state(breaker) is BreakerState.OPEN
    clock.now += 15
    assert state(breaker) is BreakerState.HALF_OPEN


def test_panic_counters_start_over_on_each_trip() -> None:
    breaker, clock, _ = make(minimum_calls=1, half_open_probes=1)
    trip(breaker)
    assert breaker.allow_panic()
    breaker.record_failure(panic=True)
    assert not breaker.allow_panic()
    clock.now += 15
    assert breaker.allow()
    breaker.record_failure()  # the probe failed: a new open period
    assert state(breaker) is BreakerState.OPEN
    assert breaker.allow_panic()


def test_a_panic_result_after_the_breaker_closed_counts_in_the_window() -> None:
    breaker, _, _ = make(minimum_calls=2)
    assert breaker.allow_panic()  # closed: admitted like any call
    breaker.record_failure(panic=True)
    breaker.record_failure(panic=True)
    assert state(breaker) is BreakerState.OPEN


def test_failure_rate_estimates() -> None:
    breaker, _, _ = make(minimum_calls=4)
    assert breaker.failure_rate == 0.0
    breaker.record_success()
    breaker.record_failure()
    assert breaker.failure_rate == 0.5
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert breaker.failure_rate == 0.75  # the rate that tripped it


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"failure_rate": 0.0}, "failure_rate"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"minimum_calls": 0}, "minimum_calls"),
        ({"half_open_probes": 0}, "half_open_probes"),
        ({"window_s": 0}, "window_s"),
    ],
)
def test_invalid_config(kw: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BreakerConfig(**kw)  # type: ignore[arg-type]


def test_registry_keys_by_provider_and_reports_states() -> None:
    clock = FakeClock()
    registry = BreakerRegistry(
        BreakerConfig(minimum_calls=1),
        overrides={"gemini": BreakerConfig(minimum_calls=2)},
        clock=clock,
    )
    assert registry.get("openai") is registry.get("openai")
    registry.get("openai").record_failure()
    registry.get("gemini").record_failure()
    assert registry.states() == {"gemini": BreakerState.CLOSED, "openai": BreakerState.OPEN}
    clock.now += 15
    assert registry.states()["openai"] is BreakerState.HALF_OPEN
