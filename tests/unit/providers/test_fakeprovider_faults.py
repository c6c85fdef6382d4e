"""The fake provider's fault plan: scripted rules, precedence, counts, seeded chaos (no I/O)."""

from __future__ import annotations

import pytest

from sluice.testing.fakeprovider import Chaos, Fault, FaultKind
from sluice.testing.fakeprovider.faults import FaultPlan


def test_no_rules_means_no_fault() -> None:
    assert FaultPlan().pick("m") is None


def test_next_n_calls_then_gone() -> None:
    plan = FaultPlan()
    plan.add(Fault(FaultKind.HANG, times=2))

    assert [plan.pick("m") is not None for _ in range(3)] == [True, True, False]


def test_rules_queue_in_order() -> None:
    plan = FaultPlan()
    plan.add(Fault(FaultKind.RATE_LIMIT, times=1))
    plan.add(Fault(FaultKind.SERVER_ERROR, times=1))

    kinds = [fault.kind if (fault := plan.pick("m")) else None for _ in range(3)]

    assert kinds == [FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, None]


def test_model_specific_rules_win_over_global_ones() -> None:
    plan = FaultPlan()
    plan.add(Fault(FaultKind.SERVER_ERROR))
    plan.add(Fault(FaultKind.HANG, model="slow"))

    assert plan.pick("slow") == Fault(FaultKind.HANG, model="slow")
    assert plan.pick("fast") == Fault(FaultKind.SERVER_ERROR)


def test_chaos_is_reproducible_from_its_seed() -> None:
    chaos = Chaos(
        seed=3,
        faults=((0.2, Fault(FaultKind.SERVER_ERROR)), (0.2, Fault(FaultKind.RATE_LIMIT))),
    )

    def draws() -> list[FaultKind | None]:
        plan = FaultPlan()
        plan.set_chaos(chaos)
        return [fault.kind if (fault := plan.pick("m")) else None for _ in range(200)]

    first = draws()
    assert first == draws()
    assert 20 < first.count(FaultKind.SERVER_ERROR) < 60
    assert 20 < first.count(FaultKind.RATE_LIMIT) < 60


def test_scripted_rules_come_before_chaos() -> None:
    plan = FaultPlan()
    plan.set_chaos(Chaos(seed=1, faults=((1.0, Fault(FaultKind.SERVER_ERROR)),)))
    plan.add(Fault(FaultKind.HANG, times=1))

    assert [plan.pick("m").kind for _ in range(2)] == [FaultKind.HANG, FaultKind.SERVER_ERROR]  # type: ignore[union-attr]  # both calls get a fault


def test_fault_json_round_trip() -> None:
    fault = Fault(FaultKind.RATE_LIMIT, model="m", times=3, retry_after_ms=250)

    assert Fault.from_json(fault.to_json()) == fault


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "nope"},
        {"times": 1},
        {"kind": "hang", "times": 0},
        {"kind": "server_error", "status": 200},
        {"kind": "slow_drip", "interval_ms": -1},
        {"kind": "hang", "colour": "red"},
    ],
)
def test_bad_fault_json_is_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        Fault.from_json(data)


def test_chaos_probabilities_must_fit_in_one() -> None:
    with pytest.raises(ValueError, match="sum"):
        Chaos.from_json({"seed": 1, "faults": [{"probability": 0.7, "kind": "hang"}] * 2})
