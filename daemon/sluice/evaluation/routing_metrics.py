"""Cost–quality curves and RouteLLM's metrics on them.

A curve is a list of points (strong share, quality, cost) of one policy at
several settings of its knob. Definitions (RouteLLM, routellm/evals/evaluate.py):

    PGR(point)  = (quality − weak) / (strong − weak)        share of the quality gap recovered
    APGR        = ∫₀¹ PGR d(strong share), trapezoids over the points sorted by share; a curve
                  that stops short of 0 % or 100 % strong calls is extended to always-cheap
                  (0, weak) and always-strong (1, strong) — a mix with either baseline reaches
                  those segments — so policies with different ranges compare
    CPT(x %)    = the smallest strong share at which the (linearly interpolated) curve
                  reaches weak + x·(strong − weak); None when it never does
    saving@95 % = 1 − cost / strong cost at the cheapest (interpolated) point whose quality
                  is ≥ 95 % of the strong model's; None when it never is
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class Point:
    strong_share: float  # share of requests that called the strongest model, in [0, 1]
    quality: float
    cost: float  # USD in all
    knob: float = 0.0  # the policy's setting that produced it


def apgr(points: Sequence[Point], weak: float, strong: float) -> float | None:
    if len(points) < 2 or strong == weak:
        return None
    pts = sorted(points, key=lambda p: (p.strong_share, p.quality))
    if pts[0].strong_share > 0:
        pts.insert(0, Point(0.0, weak, 0.0))
    if pts[-1].strong_share < 1:
        pts.append(Point(1.0, strong, 0.0))
    span = pts[-1].strong_share - pts[0].strong_share
    area = sum(
        (b.strong_share - a.strong_share) * ((a.quality + b.quality) / 2 - weak)
        for a, b in pairwise(pts)
    )
    return area / ((strong - weak) * span)


def _first_reach(xs: Sequence[float], ys: Sequence[float], target: float) -> float | None:
    """The smallest x at which the piecewise-linear curve through (xs, ys) reaches target."""
    if not xs:
        return None
    if ys[0] >= target:
        return xs[0]
    for i in range(len(xs) - 1):
        x0, y0, x1, y1 = xs[i], ys[i], xs[i + 1], ys[i + 1]
        if y1 >= target > y0:
            return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
    return None


def cpt(points: Sequence[Point], weak: float, strong: float, fraction: float) -> float | None:
    pts = sorted(points, key=lambda p: (p.strong_share, p.quality))
    target = weak + fraction * (strong - weak)
    return _first_reach([p.strong_share for p in pts], [p.quality for p in pts], target)


def saving_at(
    points: Sequence[Point], strong_quality: float, strong_cost: float, fraction: float = 0.95
) -> float | None:
    pts = sorted(points, key=lambda p: (p.cost, p.quality))
    cost = _first_reach([p.cost for p in pts], [p.quality for p in pts], fraction * strong_quality)
    if cost is None or strong_cost <= 0:
        return None
    return 1.0 - cost / strong_cost


def random_quality_at(cost: float, cheap: Point, strong: Point) -> float:
    """Quality of a random mix of the cheap and strong models that costs `cost`."""
    if strong.cost == cheap.cost:
        return strong.quality
    share = min(max((cost - cheap.cost) / (strong.cost - cheap.cost), 0.0), 1.0)
    return cheap.quality + share * (strong.quality - cheap.quality)


def lead_over_random(
    points: Sequence[Point], cheap: Point, strong: Point
) -> tuple[float, int, int]:
    """Quality lead over a random mix of equal cost at the points strictly between the two
    models' costs (at the ends every policy equals a baseline): (smallest lead, points ahead,
    points counted). No interior point: (0, 0, 0)."""
    inside = [p for p in points if cheap.cost < p.cost < strong.cost]
    leads = [p.quality - random_quality_at(p.cost, cheap, strong) for p in inside]
    if not leads:
        return 0.0, 0, 0
    return min(leads), sum(lead > 0 for lead in leads), len(leads)
