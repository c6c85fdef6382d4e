"""The standalone rate gate: RPM / TPM buckets and Retry-After holds, on a clock the test moves."""

from __future__ import annotations

import pytest

from sluice.resilience.ratelimit import LocalRateLimits, NoRateLimits, ProviderLimit
from tests.unit.cascade.fakes import FakeClock


async def test_rpm_refills_continuously() -> None:
    clock = FakeClock()
    gate = LocalRateLimits({"oa": ProviderLimit(rpm=2)}, clock=clock)
    assert await gate.acquire("oa", "m", 10) == 0.0
    assert await gate.acquire("oa", "m", 10) == 0.0
    assert await gate.acquire("oa", "m", 10) == pytest.approx(30.0)  # one request per 30 s
    clock.now += 15
    assert await gate.acquire("oa", "m", 10) == pytest.approx(15.0)
    clock.now += 15
    assert await gate.acquire("oa", "m", 10) == 0.0
    assert await gate.acquire("other", "m", 10) == 0.0  # no limit configured


async def test_tpm_takes_the_estimate_and_settles_the_real_count() -> None:
    clock = FakeClock()
    gate = LocalRateLimits({"oa": ProviderLimit(tpm=1000)}, clock=clock)
    assert await gate.acquire("oa", "m", 800) == 0.0
    assert await gate.acquire("oa", "m", 800) == pytest.approx(36.0)  # 600 short at 1000/min
    gate.settle("oa", "m", estimated=800, actual=200)  # 600 handed back
    assert await gate.acquire("oa", "m", 800) == 0.0
    # A call larger than the whole bucket waits for a full one, not forever.
    clock.now += 120
    assert await gate.acquire("oa", "m", 5000) == 0.0


async def test_holds_are_per_model_and_only_lengthen() -> None:
    clock = FakeClock()
    gate = LocalRateLimits({}, clock=clock)
    gate.hold("oa", "big", 30.0)
    gate.hold("oa", "big", 5.0)  # a shorter Retry-After later does not cut it short
    assert await gate.acquire("oa", "big", 1) == pytest.approx(30.0)
    assert await gate.acquire("oa", "small", 1) == 0.0  # another model of the provider
    clock.now += 30
    assert await gate.acquire("oa", "big", 1) == 0.0
    assert await NoRateLimits().acquire("oa", "big", 1) == 0.0
    with pytest.raises(ValueError, match="rpm and tpm"):
        ProviderLimit(rpm=0)
