"""RetryPolicy: full-jitter backoff, Retry-After, and the deadline."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.resilience.retry import GiveUp, Retry, RetryPolicy


def test_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.base_s, policy.cap_s) == (2, 0.1, 2.0)


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"),
    [
        (0, 0.5, 0.05),  # 0.5 · 0.1
        (1, 0.5, 0.1),  # 0.5 · 0.2
        (3, 1.0, 0.8),
        (10, 1.0, 2.0),  # capped
        (10, 0.25, 0.5),
        (0, 0.0, 0.0),
        (1000, 0.5, 1.0),  # no overflow
    ],
)
def test_backoff(retry: int, jitter: float, expected: float) -> None:
    assert RetryPolicy().backoff(retry, jitter) == pytest.approx(expected)


@given(retry=st.integers(0, 100), jitter=st.floats(0.0, 1.0))
def test_backoff_is_within_full_jitter_bounds(retry: int, jitter: float) -> None:
    delay = RetryPolicy().backoff(retry, jitter)
    assert 0.0 <= delay <= min(2.0, 0.1 * 2.0**retry)


def test_retries_while_budget_allows() -> None:
    policy = RetryPolicy()
    assert policy.decide(0, retry_after=None, remaining_s=10, jitter=0.5) == Retry(0.05)
    assert policy.decide(1, retry_after=None, remaining_s=10, jitter=0.5) == Retry(0.1)
    assert isinstance(policy.decide(2, retry_after=None, remaining_s=10, jitter=0.5), GiveUp)


def test_zero_retries_never_retries() -> None:
    decision = RetryPolicy(max_retries=0).decide(0, retry_after=None, remaining_s=10, jitter=0)
    assert isinstance(decision, GiveUp)


def test_retry_after_is_honoured_exactly() -> None:
    decision = RetryPolicy().decide(0, retry_after=3.0, remaining_s=10, jitter=0.9)
    assert decision == Retry(3.0)  # longer than the 2 s cap: the provider asked for it


def test_retry_after_that_does_not_fit_the_deadline_gives_up() -> None:
    decision = RetryPolicy().decide(0, retry_after=3.0, remaining_s=2.5, jitter=0.5)
    assert isinstance(decision, GiveUp)
    assert "does not fit" in decision.reason


def test_the_shortest_useful_call_must_fit_after_the_wait() -> None:
    policy = RetryPolicy()
    assert policy.decide(0, retry_after=1.0, remaining_s=1.2, jitter=0, min_call_s=0.1) == Retry(
        1.0
    )
    decision = policy.decide(0, retry_after=1.0, remaining_s=1.05, jitter=0, min_call_s=0.1)
    assert isinstance(decision, GiveUp)


def test_very_long_retry_after_falls_back() -> None:
    decision = RetryPolicy().decide(0, retry_after=120.0, remaining_s=1000, jitter=0)
    assert isinstance(decision, GiveUp)


def test_invalid_policy() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
