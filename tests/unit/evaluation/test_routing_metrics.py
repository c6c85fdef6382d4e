"""APGR, CPT and savings on hand-made curves with known answers."""

from __future__ import annotations

import pytest

from sluice.evaluation.routing_metrics import (
    Point,
    apgr,
    cpt,
    lead_over_random,
    random_quality_at,
    saving_at,
)

WEAK, STRONG = 0.6, 0.8
CHEAP = Point(0.0, WEAK, 1.0)
EXPENSIVE = Point(1.0, STRONG, 11.0)


def test_a_random_mix_recovers_half_the_gap_on_average() -> None:
    line = [Point(s, WEAK + s * (STRONG - WEAK), 1 + 10 * s) for s in (0.0, 0.25, 0.5, 1.0)]
    assert apgr(line, WEAK, STRONG) == pytest.approx(0.5)
    assert cpt(line, WEAK, STRONG, 0.5) == pytest.approx(0.5)
    assert cpt(line, WEAK, STRONG, 0.8) == pytest.approx(0.8)
    # 95 % of 0.8 = 0.76 = 80 % of the gap → cost 1 + 8 = 9 of 11.
    assert saving_at(line, STRONG, 11.0) == pytest.approx(1 - 9 / 11)
    lead, ahead, inside = lead_over_random(line, CHEAP, EXPENSIVE)
    assert lead == pytest.approx(0.0)
    assert (ahead, inside) == (0, 2)  # on the line is not ahead


def test_a_router_that_recovers_the_gap_at_20_percent() -> None:
    curve = [Point(0.0, WEAK, 1.0), Point(0.2, STRONG, 3.0), Point(1.0, STRONG, 11.0)]
    # Area: 0.2·(0.1 above weak) + 0.8·0.2 = 0.18 over a gap of 0.2 → 0.9.
    assert apgr(curve, WEAK, STRONG) == pytest.approx(0.9)
    assert cpt(curve, WEAK, STRONG, 0.5) == pytest.approx(0.1)
    assert cpt(curve, WEAK, STRONG, 0.8) == pytest.approx(0.16)
    # 0.76 is reached at cost 1 + 2·0.8 = 2.6.
    assert saving_at(curve, STRONG, 11.0) == pytest.approx(1 - 2.6 / 11)
    assert random_quality_at(3.0, CHEAP, EXPENSIVE) == pytest.approx(0.64)
    # Only the middle point is strictly between the two costs: 0.16 above the line.
    assert lead_over_random(curve, CHEAP, EXPENSIVE) == (pytest.approx(0.16), 1, 1)
    assert lead_over_random(curve[:1], CHEAP, EXPENSIVE) == (0.0, 0, 0)


def test_a_curve_that_never_gets_there() -> None:
    flat = [Point(0.0, WEAK, 1.0), Point(1.0, 0.65, 11.0)]
    assert cpt(flat, WEAK, STRONG, 0.5) is None
    assert saving_at(flat, STRONG, 11.0) is None
    assert apgr(flat, WEAK, STRONG) == pytest.approx(0.125)
    assert apgr([Point(0.3, 0.7, 1.0)], WEAK, STRONG) is None, "one point has no area"


def test_apgr_extends_a_short_curve_to_the_baselines() -> None:
    # (0, 0.6) → (0.2, 0.7) → (0.5, 0.8) → (1, 0.8): 0.2·0.05 + 0.3·0.15 + 0.5·0.2 = 0.155.
    curve = [Point(0.2, 0.7, 3.0), Point(0.5, STRONG, 6.0)]
    assert apgr(curve, WEAK, STRONG) == pytest.approx(0.155 / 0.2)
