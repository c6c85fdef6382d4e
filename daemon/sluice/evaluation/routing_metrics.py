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

The baseline a router must beat is not one model but the best *mix* of fixed tiers
(RouterBench's "zero router"): send a share of requests to one tier and the rest
to another, at random. Its cost–quality frontier is the upper convex hull of the
always-tier-k points (`hull`); a policy earns its keep only where it is above it
(`lead_over_hull`). With two tiers the hull is RouteLLM's random line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


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


def hull(fixed: Sequence[Point]) -> list[Point]:
    """The upper-left frontier of random mixes of the fixed tiers, cheapest first.

    A tier that costs more than another for less quality is off it (no mix uses it);
    so is one below the chord between its neighbours (a mix of those beats it).
    """
    frontier: list[Point] = []
    for p in sorted(fixed, key=lambda q: (q.cost, -q.quality)):
        if frontier and p.quality <= frontier[-1].quality:
            continue  # dearer and no better
        while len(frontier) >= 2:
            a, b = frontier[-2], frontier[-1]
            # b is under (or on) the chord a → p: a mix of a and p is at least as good.
            if (b.quality - a.quality) * (p.cost - a.cost) <= (p.quality - a.quality) * (
                b.cost - a.cost
            ):
                frontier.pop()
            else:
                break
        frontier.append(p)
    return frontier


def hull_quality_at(cost: float, frontier: Sequence[Point]) -> float | None:
    """The best quality a mix of fixed tiers reaches for `cost` (None below the cheapest)."""
    if not frontier or cost < frontier[0].cost:
        return None
    for a, b in pairwise(frontier):
        if cost <= b.cost:
            share = (cost - a.cost) / (b.cost - a.cost) if b.cost > a.cost else 1.0
            return a.quality + share * (b.quality - a.quality)
    return frontier[-1].quality


def lead_over_hull(points: Sequence[Point], frontier: Sequence[Point]) -> tuple[float, int, int]:
    """Quality lead over the fixed-tier hull at the points strictly inside its cost range
    (at its ends a policy can only tie a fixed tier): (smallest lead, points ahead, points
    counted). No interior point: (0, 0, 0)."""
    if not frontier:
        return 0.0, 0, 0
    low, high = frontier[0].cost, frontier[-1].cost
    leads = [
        p.quality - q
        for p in points
        if low < p.cost < high and (q := hull_quality_at(p.cost, frontier)) is not None
    ]
    if not leads:
        return 0.0, 0, 0
    return min(leads), sum(lead > 0 for lead in leads), len(leads)


@dataclass(frozen=True)
class Rows:
    """One policy setting's outcome on each row of a split, in the split's order."""

    quality: Array
    cost: Array  # USD of every call of every tier the request made
    strong: Array  # 1.0 where the strongest tier was called

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        return Rows(*(np.concatenate(c) for c in zip(
            *((p.quality, p.cost, p.strong) for p in parts), strict=True)))  # fmt: skip

    def point(self, knob: float = 0.0, idx: npt.NDArray[np.int64] | None = None) -> Point:
        q, c, s = (self.quality, self.cost, self.strong) if idx is None else (
            self.quality[idx], self.cost[idx], self.strong[idx])  # fmt: skip
        return Point(float(s.mean()), float(q.mean()), float(c.mean()), knob)


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates of an operating point, against the strongest tier and the hull."""

    quality_share: Array  # quality / the strongest tier's, on the same rows
    cost_share: Array  # cost / the strongest tier's
    hull_lead: Array  # quality − the fixed-tier hull's at the same cost (nan below its range)

    def __add__(self, other: Replicates) -> Replicates:
        return Replicates(*(np.concatenate([a, b]) for a, b in zip(
            (self.quality_share, self.cost_share, self.hull_lead),
            (other.quality_share, other.cost_share, other.hull_lead), strict=True)))  # fmt: skip


def bootstrap(
    chosen: Rows, fixed: Sequence[Rows], strong: Rows, *, resamples: int = 1000, seed: int = 0
) -> Replicates:
    """Paired bootstrap of an operating point: each replicate draws the test rows with
    replacement once and scores the policy, every fixed tier (hence the hull) and the
    strongest tier on that same draw."""
    n = len(chosen.quality)
    rng = np.random.default_rng(seed)
    q_share, c_share, lead = (np.empty(resamples) for _ in range(3))
    for r in range(resamples):
        idx = rng.integers(0, n, size=n)
        p, s = chosen.point(idx=idx), strong.point(idx=idx)
        q_share[r] = p.quality / s.quality if s.quality else np.nan
        c_share[r] = p.cost / s.cost if s.cost else np.nan
        best = hull_quality_at(p.cost, hull([f.point(idx=idx) for f in fixed]))
        lead[r] = np.nan if best is None else p.quality - best
    return Replicates(q_share, c_share, lead)


def interval(samples: Array, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (nan ones left out)."""
    kept = samples[~np.isnan(samples)]
    if not len(kept):
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(kept, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """How an operating point is chosen on calibration data (`choose`).

    `share`: the quality, as a share of the strongest tier's, the point must reach.
    `bound`: 0 compares the calibration estimate with `share` (half the time the point
    then falls short on new data); a level such as 0.95 compares the one-sided lower bound
    of a paired bootstrap of the share at that level instead, so the margin grows with how
    uncertain the calibration data leave it (few rows, many disagreements).
    `grid`: how many quantiles of a learned score on calibrate make the classifier's and
    the cascades' knob grid. The point is the cheapest knob that passes, so a coarse grid
    overshoots: with 9 quantiles each step escalates about 1/8 of the prompts. 17 (every
    1/16) holds the 9 of earlier versions, so on the same data it never chooses a dearer
    knob than they did.
    """

    share: float = 0.95
    bound: float = 0.95
    grid: int = 17


def draws(n: int, resamples: int = 1000, seed: int = 0) -> npt.NDArray[np.int64]:
    """`resamples` bootstrap draws of `n` row indices, one draw per row of the matrix."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def share_lower_bound(
    quality: Array, strong: Array, level: float, rows: npt.NDArray[np.int64]
) -> float:
    """One-sided lower bound at `level` of mean(quality) / mean(strong): a paired bootstrap
    over `draws` (each replicate takes the same rows of both)."""
    strong_means = strong[rows].mean(axis=1)
    shares = quality[rows].mean(axis=1) / np.where(strong_means > 0, strong_means, np.nan)
    kept = shares[~np.isnan(shares)]
    return float(np.percentile(kept, (1.0 - level) * 100.0)) if len(kept) else float("nan")


def choose(cal: Sequence[Rows], strong: Array, rule: ChoiceRule) -> int:
    """Index of the cheapest calibration setting that reaches `rule`, else the best one.

    `cal`: each setting's calibration rows; `strong`: the strongest tier's quality on the
    same rows, in the same order.
    """
    points = [r.point() for r in cal]
    strong_mean = float(strong.mean()) if len(strong) else 0.0
    # The same draws for every setting: one matrix, and settings compared on the same rows.
    rows = draws(len(strong)) if rule.bound > 0 else None

    def reaches(r: Rows, p: Point) -> bool:
        if rows is None:
            return p.quality >= rule.share * strong_mean
        return share_lower_bound(r.quality, strong, rule.bound, rows) >= rule.share

    ok = [i for i, (r, p) in enumerate(zip(cal, points, strict=True)) if reaches(r, p)]
    if ok:
        return min(ok, key=lambda i: (points[i].cost, -points[i].quality))
    return max(range(len(points)), key=lambda i: (points[i].quality, -points[i].cost))
