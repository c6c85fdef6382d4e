"""APGR, CPT and savings on hand-made curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sluice.evaluation.routing_metrics import (
    ChoiceRule,
    Point,
    Rows,
    apgr,
    bootstrap,
    choose,
    cpt,
    draws,
    hull,
    hull_quality_at,
    interval,
    lead_over_hull,
    saving_at,
    share_lower_bound,
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
    lead, ahead, inside = lead_over_hull(line, hull([CHEAP, EXPENSIVE]))
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
    two = hull([CHEAP, EXPENSIVE])  # with two tiers the hull is the random line
    assert hull_quality_at(3.0, two) == pytest.approx(0.64)
    # Only the middle point is strictly between the two costs: 0.16 above the line.
    assert lead_over_hull(curve, two) == (pytest.approx(0.16), 1, 1)
    assert lead_over_hull(curve[:1], two) == (0.0, 0, 0)


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


def test_the_hull_keeps_only_tiers_no_mix_beats() -> None:
    medium = Point(0.0, 0.75, 4.0)  # above the cheap–strong chord (0.66 at cost 4)
    poor = Point(0.0, 0.62, 5.0)  # under the chord cheap–medium–strong: a mix beats it
    dear = Point(0.0, 0.70, 12.0)  # dearer than strong for less: no mix uses it
    frontier = hull([EXPENSIVE, poor, dear, CHEAP, medium])
    assert frontier == [CHEAP, medium, EXPENSIVE]
    assert hull_quality_at(2.5, frontier) == pytest.approx(0.6 + 0.5 * 0.15)
    assert hull_quality_at(20.0, frontier) == STRONG, "beyond the dearest: its quality"
    assert hull_quality_at(0.5, frontier) is None, "below the cheapest tier: no mix"
    # A router at medium's cost with medium's quality is not ahead; one above it is.
    assert lead_over_hull([Point(0.3, 0.75, 4.0)], frontier) == (pytest.approx(0.0), 0, 1)
    assert lead_over_hull([Point(0.3, 0.77, 4.0)], frontier)[1] == 1
    # Against the two-tier line the same point looked 0.09 ahead.
    assert lead_over_hull([Point(0.3, 0.75, 4.0)], hull([CHEAP, EXPENSIVE]))[0] == (
        pytest.approx(0.09)
    )


def test_the_bootstrap_pairs_policy_hull_and_strongest_on_the_same_rows() -> None:
    rng = np.random.default_rng(1)
    n = 400
    strong_q = (rng.random(n) < 0.8).astype(float)
    cheap_q = np.where(rng.random(n) < 0.75, strong_q, 0.0)
    ones = np.ones(n)
    cheap, strong = Rows(cheap_q, ones, 0 * ones), Rows(strong_q, 10 * ones, ones)
    # A policy that is the strongest tier itself: quality and cost shares are exactly 1 in
    # every replicate (paired draws), and it ties the hull's end.
    same = bootstrap(strong, [cheap, strong], strong, resamples=200, seed=3)
    assert np.allclose(same.quality_share, 1.0)
    assert np.allclose(same.cost_share, 1.0)
    assert np.allclose(same.hull_lead, 0.0)
    # An oracle: the cheap answer where it is right, else the strong one.
    oracle_q = np.maximum(cheap_q, strong_q)
    oracle = Rows(oracle_q, np.where(cheap_q > 0, 1.0, 11.0), (cheap_q == 0).astype(float))
    reps = bootstrap(oracle, [cheap, strong], strong, resamples=500, seed=3)
    lo, hi = interval(reps.hull_lead)
    assert 0.0 < lo < hi, "the oracle is above the hull in every bootstrap world"
    lo, hi = interval(reps.cost_share)
    point = oracle.point().cost / strong.point().cost
    assert lo < point < hi
    assert hi - lo < 0.15, "an interval around the point, not a wide one"
    assert all(np.isnan(interval(np.array([np.nan, np.nan])))), "no usable replicate: nan"


def _rows(n: int, wrong: int, cost: float) -> Rows:
    """n rows, all right but `wrong` of them, each costing `cost`."""
    quality = np.ones(n)
    quality[:wrong] = 0.0
    return Rows(quality, np.full(n, cost), np.zeros(n))


def test_the_lower_bound_of_a_share_is_the_bootstrap_s_lower_tail() -> None:
    strong, rows = np.ones(400), draws(400)
    assert share_lower_bound(strong, strong, 0.95, rows) == 1.0
    # 380 of 400 right: share 0.95, standard error sqrt(0.95 * 0.05 / 400) = 0.0109.
    bound = share_lower_bound(_rows(400, 20, 1.0).quality, strong, 0.95, rows)
    assert bound == pytest.approx(0.95 - 1.645 * 0.0109, abs=0.006)
    assert share_lower_bound(_rows(400, 20, 1.0).quality, strong, 0.75, rows) > bound


def test_the_bound_sizes_the_margin_by_the_calibration_data() -> None:
    # A cheap setting at 96 % of the strongest tier's quality and a dear one at 100 %.
    for n, cheap_wins in ((200, False), (20_000, True)):
        strong = np.ones(n)
        cal = [_rows(n, n * 4 // 100, 1.0), _rows(n, 0, 10.0)]
        # The estimate alone takes the cheap one whatever the number of rows...
        assert choose(cal, strong, ChoiceRule(0.95, 0.0)) == 0
        # ...the lower bound only when the rows make 96 % surely above 95 %.
        assert (choose(cal, strong, ChoiceRule(0.95, 0.95)) == 0) is cheap_wins
    # Nothing reaches the share: the best quality, then the cheapest.
    strong = np.ones(100)
    cal = [_rows(100, 50, 1.0), _rows(100, 30, 5.0), _rows(100, 30, 2.0)]
    assert choose(cal, strong, ChoiceRule(0.95, 0.95)) == 2
