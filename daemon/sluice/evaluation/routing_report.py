"""Tables, JSON and plots of `sluice eval routing`.

The headline is each policy's operating point (its knob chosen on the calibration
split) as measured on the test split: quality and cost as shares of the strongest
tier's, and its lead over the best random mix of fixed tiers (the hull) at the same
cost, each with a paired-bootstrap 95 % interval pooled over the seeds' splits. The
curves' metrics (APGR, CPT, saving @95 % read off the test curve) are diagnostics:
reading the best point off the test curve is choosing on the test split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import add
from pathlib import Path
from typing import Any

import numpy as np

from sluice.evaluation.routing_eval import DatasetResult, PolicyResult
from sluice.evaluation.routing_metrics import (
    Point,
    Replicates,
    apgr,
    bootstrap,
    cpt,
    hull,
    hull_quality_at,
    interval,
    lead_over_hull,
    saving_at,
)

TARGET = 0.95  # the operating point's quality target, as a share of the strongest tier's
PICKED = "picked on calibrate"  # the headline row of DatasetResult.pick, seed by seed


def _ends(d: DatasetResult) -> tuple[Point, Point]:
    fixed = d.fixed()
    if len(fixed) < 2:
        raise ValueError("the report needs the always-cheap and always-strong baselines")
    return fixed[0].chosen, fixed[-1].chosen


def _frontier(d: DatasetResult) -> list[Point]:
    return hull([p.chosen for p in d.fixed()])


def policy_metrics(d: DatasetResult, p: PolicyResult) -> dict[str, Any]:
    """One seed's figures for one policy: the operating point and its test curve."""
    cheap, strong = _ends(d)
    w, s = cheap.quality, strong.quality
    frontier = _frontier(d)
    lead, ahead, inside = lead_over_hull(p.curve, frontier)
    best = hull_quality_at(p.chosen.cost, frontier)
    return {
        "quality": p.chosen.quality,
        "cost": p.chosen.cost,
        "strong_share": p.chosen.strong_share,
        "knob": p.chosen.knob,
        "cost_vs_strong": p.chosen.cost / strong.cost if strong.cost else None,
        "quality_vs_strong": p.chosen.quality / s if s else None,
        "lead_over_hull": None if best is None else p.chosen.quality - best,
        "apgr": apgr(p.curve, w, s),
        "cpt50": cpt(p.curve, w, s, 0.5),
        "cpt80": cpt(p.curve, w, s, 0.8),
        "saving_at_95pct_quality": saving_at(p.curve, s, strong.cost),
        "min_curve_lead_over_hull": lead,
        "curve_points_above_hull": [ahead, inside],
        "curve": [
            {"knob": q.knob, "quality": q.quality, "cost": q.cost, "strong_share": q.strong_share}
            for q in p.curve
        ],
    }


@dataclass(frozen=True)
class Headline:
    """A policy's operating point over every seed: means and pooled bootstrap intervals."""

    quality_share: float
    quality_ci: tuple[float, float]
    cost_share: float
    cost_ci: tuple[float, float]
    hull_lead: float
    hull_lead_ci: tuple[float, float]
    held: int  # seeds whose test quality reached TARGET of the strongest tier's
    seeds: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "quality_vs_strong": self.quality_share,
            "quality_vs_strong_ci95": list(self.quality_ci),
            "cost_vs_strong": self.cost_share,
            "saving": 1.0 - self.cost_share,
            "cost_vs_strong_ci95": list(self.cost_ci),
            "lead_over_hull": self.hull_lead,
            "lead_over_hull_ci95": list(self.hull_lead_ci),
            "seeds_at_95pct_of_strong": [self.held, self.seeds],
        }


def headline(runs: Sequence[DatasetResult], resamples: int = 1000) -> dict[str, Headline]:
    """Each policy's headline over the runs (one per seed) of one data set."""
    names = [p.name for p in runs[0].policies]
    out = {}
    for name in [*names, PICKED]:
        reps: list[Replicates] = []
        shares, costs, leads = [], [], []
        for d in runs:
            by = {p.name: p for p in d.policies}
            fixed, chosen = d.fixed(), by[d.pick if name == PICKED else name]
            strong = fixed[-1]
            reps.append(bootstrap(chosen.rows, [f.rows for f in fixed], strong.rows,
                                  resamples=resamples, seed=d.seed))  # fmt: skip
            m = policy_metrics(d, chosen)
            shares.append(m["quality_vs_strong"])
            costs.append(m["cost_vs_strong"])
            leads.append(m["lead_over_hull"])
        pooled = reduce(add, reps)
        out[name] = Headline(
            _mean(shares), interval(pooled.quality_share), _mean(costs),
            interval(pooled.cost_share), _mean(leads), interval(pooled.hull_lead),
            sum(q is not None and q >= TARGET - 1e-12 for q in shares), len(runs),
        )  # fmt: skip
    return out


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else float("nan")


def grouped(results: Sequence[DatasetResult]) -> dict[str, list[DatasetResult]]:
    """The runs of each data set (one per seed), in the order they came."""
    out: dict[str, list[DatasetResult]] = {}
    for d in results:
        out.setdefault(d.name, []).append(d)
    return out


def _run_json(d: DatasetResult) -> dict[str, Any]:
    return {
        "seed": d.seed,
        "split": {"fit": d.split[0], "calibrate": d.split[1], "test": d.split[2]},
        "calibrate_folds": d.folds,
        "chosen_at_share_of_strong": d.rule.share,
        "chosen_lower_bound_level": d.rule.bound,
        "knob_grid_quantiles": d.rule.grid,
        "picked_on_calibrate": d.pick,
        "confidence": [
            {
                "model": model,
                "ece": c.ece,
                "auc": c.auc,
                "reliability": [
                    {"predicted": b[0], "observed": b[1], "count": b[2]} for b in c.bins
                ],
            }
            for model, c in zip(d.tier_models, d.calibration, strict=False)
        ],
        "classifier_auc": d.classifier_auc,
        "seconds": d.seconds,
        "policies": {p.name: policy_metrics(d, p) for p in d.policies},
    }


def as_json(results: Sequence[DatasetResult], resamples: int = 1000) -> dict[str, Any]:
    out = {}
    for name, runs in grouped(results).items():
        d = runs[0]
        out[name] = {
            "strong_model": d.strong_model,
            "cheap_model": d.cheap_model,
            "tier_models": list(d.tier_models),
            "rows": d.rows,
            "dropped_contaminated": d.dropped,
            "note": d.note,
            "headline": {k: h.as_dict() for k, h in headline(runs, resamples).items()},
            "runs": [_run_json(r) for r in runs],
        }
    return {"datasets": out}


def _pct(v: float | None) -> str:
    return "—" if v is None or math.isnan(v) else f"{v:.1%}"


def _ci(v: float, ci: tuple[float, float], fmt: str = ".1%") -> str:
    if math.isnan(v):
        return "—"
    lo, hi = ci
    return f"{v:{fmt}}" if math.isnan(lo) else f"{v:{fmt}} ({lo:{fmt}}–{hi:{fmt}})"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def _lead(counts: list[int], lead: float) -> str:
    ahead, inside = counts
    return "—" if not inside else f"{ahead}/{inside} (min {lead:+.3f})"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> list[str]:
    if markdown:
        return [
            "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows), "",
        ]  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    return ["  " + "  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True))
            for r in (head, *rows)]  # fmt: skip


def format_table(
    results: Sequence[DatasetResult], markdown: bool = False, resamples: int = 1000
) -> str:
    out = []
    for name, runs in grouped(results).items():
        d = runs[0]
        seeds = ", ".join(str(r.seed) for r in runs)
        out.append(
            f"\n{name}: {d.rows} prompts ({d.dropped} contaminated dropped), test "
            f"{d.split[2]} per split, seeds {seeds}; tiers {' → '.join(d.tier_models)}"
        )
        if d.note:
            out.append(f"  {d.note}")
        aucs = "; ".join(
            f"{m} AUC {_mean([r.calibration[i].auc for r in runs]):.3f} "
            f"ECE {_mean([r.calibration[i].ece for r in runs]):.3f}"
            for i, m in enumerate(d.tier_models[: len(d.calibration)])
        )
        out.append(f"  learned confidence on test (mean over seeds): {aucs}; classifier AUC "
                   f"{_mean([r.classifier_auc for r in runs]):.3f}")  # fmt: skip
        chosen_on = "calibrate" if d.folds <= 1 else f"{d.folds} cross-fitted calibrate parts"
        how = (
            f"reaching {d.rule.share:.0%} of the strongest tier's quality"
            if d.rule.bound <= 0
            else f"whose one-sided {d.rule.bound:.0%} lower bound (paired bootstrap) reaches "
            f"{d.rule.share:.0%} of the strongest tier's quality"
        )
        out.append(
            f"  operating points: the cheapest knob ({d.rule.grid}-quantile grids) {how} on "
            f"{chosen_on}, measured on test; mean over seeds (paired bootstrap 95 % interval, "
            "pooled over seeds)"
        )
        heads = headline(runs, resamples)
        rows = [
            (
                p, _ci(h.quality_share, h.quality_ci), _ci(h.cost_share, h.cost_ci),
                _pct(1.0 - h.cost_share), _ci(h.hull_lead, h.hull_lead_ci, "+.3f"),
                f"{h.held}/{h.seeds}",
            )
            for p, h in heads.items()
        ]  # fmt: skip
        out += _table(("policy", "quality vs strongest", "cost vs strongest", "saving",
                       "lead over hull", "≥95 % on test"), rows, markdown)  # fmt: skip
        out.append(f"  {PICKED}: the policy whose operating point the same rule picks among "
                   "all of the above on the same calibration data, seed by seed: "
                   + ", ".join(f"{r.seed}: {r.pick}" for r in runs))  # fmt: skip
        out.append(f"  test curves, seed {d.seed} (diagnostics: read off the test split)")
        diag = []
        for p in d.policies:
            if p.name.startswith("always-"):
                continue  # one point: no curve
            m = policy_metrics(d, p)
            diag.append((
                p.name, _num(m["apgr"]), _pct(m["cpt50"]), _pct(m["cpt80"]),
                _pct(m["saving_at_95pct_quality"]),
                _lead(m["curve_points_above_hull"], m["min_curve_lead_over_hull"]),
            ))  # fmt: skip
        out += _table(("policy", "APGR", "CPT(50%)", "CPT(80%)", "best saving @95%",
                       "curve points above hull"), diag, markdown)  # fmt: skip
    return "\n".join(out)


def plot(results: Sequence[DatasetResult], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the eval needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    firsts = [runs[0] for runs in grouped(results).values()]
    fig, axes = plt.subplots(2, len(firsts), figsize=(5.5 * len(firsts), 9), squeeze=False)
    for col, d in enumerate(firsts):
        cheap, strong = _ends(d)
        top, bottom = axes[0][col], axes[1][col]
        frontier = _frontier(d)
        top.plot([q.cost / strong.cost * 100 for q in frontier], [q.quality for q in frontier],
                 color="black", lw=2, alpha=0.5, label="hull of fixed tiers")  # fmt: skip
        for p in d.policies:
            if p.name.startswith("always-"):
                top.plot(p.chosen.cost / strong.cost * 100, p.chosen.quality, "ks", ms=5)
                continue
            pts = sorted(p.curve, key=lambda q: q.cost)
            style = "--" if p.name == "random" else "-"
            (line,) = top.plot([q.cost / strong.cost * 100 for q in pts], [q.quality for q in pts],
                               style, marker=".", ms=4, label=p.name)  # fmt: skip
            top.plot(p.chosen.cost / strong.cost * 100, p.chosen.quality, "o", ms=8,
                     mfc="none", color=line.get_color())  # fmt: skip
            pts = sorted(p.curve, key=lambda q: q.strong_share)
            bottom.plot([q.strong_share * 100 for q in pts], [q.quality for q in pts],
                        style, marker=".", ms=4, label=p.name)  # fmt: skip
        for ax, xlabel in ((top, "cost, % of the strongest tier alone"),
                           (bottom, "strongest-tier calls, %")):  # fmt: skip
            ax.axhline(strong.quality, color="red", ls=":", lw=1, label="strongest tier")
            ax.axhline(cheap.quality, color="grey", ls=":", lw=1, label="cheapest tier")
            ax.axhline(TARGET * strong.quality, color="green", ls=":", lw=1,
                       label="95 % of strongest")  # fmt: skip
            ax.set_xlabel(xlabel)
            ax.set_ylabel("quality")
            ax.grid(alpha=0.3)
        top.set_title(f"{d.name} (test split, seed {d.seed}, {d.split[2]} prompts)")
        top.legend(fontsize=7, loc="lower right")
    fig.suptitle("Sluice routing on replayed answers (circles: operating points chosen on "
                 "calibrate; squares: fixed tiers)")  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_calibration(results: Sequence[DatasetResult], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
    for runs in grouped(results).values():
        d = runs[0]
        for model, c in zip(d.tier_models, d.calibration, strict=False):
            ax.plot([b[0] for b in c.bins], [b[1] for b in c.bins], marker="o", ms=4,
                    label=f"{d.name} · {model} (ECE {c.ece:.3f})")  # fmt: skip
    ax.set_xlabel("predicted P(this tier's answer is good enough)")
    ax.set_ylabel("observed rate")
    ax.set_title("Learned cascade confidence per tier: reliability on the test split")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
