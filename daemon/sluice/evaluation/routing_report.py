"""Tables, JSON and plots of `sluice eval routing`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sluice.evaluation.routing_eval import DatasetResult, PolicyResult
from sluice.evaluation.routing_metrics import Point, apgr, cpt, lead_over_random, saving_at


def _ends(d: DatasetResult) -> tuple[Point, Point]:
    by = {p.name: p for p in d.policies}
    cheap = by["always-cheap"].chosen if "always-cheap" in by else None
    strong = by["always-strong"].chosen if "always-strong" in by else None
    if cheap is None or strong is None:
        raise ValueError("the report needs the always-cheap and always-strong baselines")
    return cheap, strong


def policy_metrics(d: DatasetResult, p: PolicyResult) -> dict[str, Any]:
    cheap, strong = _ends(d)
    w, s = cheap.quality, strong.quality
    lead, ahead, inside = lead_over_random(p.curve, cheap, strong)
    return {
        "quality": p.chosen.quality,
        "cost": p.chosen.cost,
        "strong_share": p.chosen.strong_share,
        "apgr": apgr(p.curve, w, s),
        "cpt50": cpt(p.curve, w, s, 0.5),
        "cpt80": cpt(p.curve, w, s, 0.8),
        "saving_at_95pct_quality": saving_at(p.curve, s, strong.cost),
        "knob": p.chosen.knob,
        "cost_vs_strong": p.chosen.cost / strong.cost if strong.cost else None,
        "quality_vs_strong": p.chosen.quality / s if s else None,
        "min_lead_over_random": lead,
        "points_above_random": [ahead, inside],
        "curve": [
            {"knob": q.knob, "quality": q.quality, "cost": q.cost, "strong_share": q.strong_share}
            for q in p.curve
        ],
    }


def as_json(results: Sequence[DatasetResult]) -> dict[str, Any]:
    return {
        "datasets": {
            d.name: {
                "strong_model": d.strong_model,
                "cheap_model": d.cheap_model,
                "rows": d.rows,
                "dropped_contaminated": d.dropped,
                "split": {"fit": d.split[0], "calibrate": d.split[1], "test": d.split[2]},
                "note": d.note,
                "confidence": {
                    "ece": d.calibration.ece,
                    "auc": d.calibration.auc,
                    "reliability": [
                        {"predicted": b[0], "observed": b[1], "count": b[2]}
                        for b in d.calibration.bins
                    ],
                },
                "classifier_auc": d.classifier_auc,
                "seconds": d.seconds,
                "policies": {p.name: policy_metrics(d, p) for p in d.policies},
            }
            for d in results
        }
    }


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def _lead(counts: list[int], lead: float) -> str:
    ahead, inside = counts
    return "—" if not inside else f"{ahead}/{inside} (min {lead:+.3f})"


def format_table(results: Sequence[DatasetResult], markdown: bool = False) -> str:
    out = []
    head = ("policy", "quality", "% of strong", "cost $/req", "% of strong cost", "strong calls",
            "APGR", "CPT(50%)", "CPT(80%)", "saving @95%", "above random")  # fmt: skip
    for d in results:
        out.append(
            f"\n{d.name}: {d.rows} prompts ({d.dropped} contaminated dropped), test {d.split[2]}; "
            f"cheap {d.cheap_model}, strong {d.strong_model}"
        )
        if d.note:
            out.append(f"  {d.note}")
        out.append(
            f"  learned confidence on test: ECE {d.calibration.ece:.3f}, AUC "
            f"{d.calibration.auc:.3f}; classifier AUC {d.classifier_auc:.3f}"
        )
        rows = []
        for p in d.policies:
            m = policy_metrics(d, p)
            rows.append((
                p.name, _num(m["quality"]), _pct(m["quality_vs_strong"]), f"{m['cost']:.6f}",
                _pct(m["cost_vs_strong"]), _pct(m["strong_share"]), _num(m["apgr"]),
                _pct(m["cpt50"]), _pct(m["cpt80"]), _pct(m["saving_at_95pct_quality"]),
                _lead(m["points_above_random"], m["min_lead_over_random"]),
            ))  # fmt: skip
        if markdown:
            out.append("")
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
            for r in (head, *rows):
                out.append(
                    "  " + "  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True))
                )
    return "\n".join(out)


def plot(results: Sequence[DatasetResult], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the eval needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 9), squeeze=False)
    for col, d in enumerate(results):
        cheap, strong = _ends(d)
        top, bottom = axes[0][col], axes[1][col]
        for p in d.policies:
            if p.name in {"always-cheap", "always-strong"}:
                continue
            pts = sorted(p.curve, key=lambda q: q.cost)
            style = "--" if p.name == "random" else "-"
            top.plot([q.cost / strong.cost * 100 for q in pts], [q.quality for q in pts],
                     style, marker=".", ms=4, label=p.name)  # fmt: skip
            pts = sorted(p.curve, key=lambda q: q.strong_share)
            bottom.plot([q.strong_share * 100 for q in pts], [q.quality for q in pts],
                        style, marker=".", ms=4, label=p.name)  # fmt: skip
        for ax, xlabel in ((top, "cost, % of always-strong"), (bottom, "strong-model calls, %")):
            ax.axhline(strong.quality, color="red", ls=":", lw=1, label="always-strong")
            ax.axhline(cheap.quality, color="grey", ls=":", lw=1, label="always-cheap")
            ax.axhline(0.95 * strong.quality, color="green", ls=":", lw=1, label="95 % of strong")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("quality")
            ax.grid(alpha=0.3)
        top.set_title(f"{d.name} (test split, {d.split[2]} prompts)")
        top.legend(fontsize=7, loc="lower right")
    fig.suptitle("Sluice routing on replayed answers: quality against cost and strong calls")
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
    for d in results:
        bins = d.calibration.bins
        ax.plot([b[0] for b in bins], [b[1] for b in bins], marker="o", ms=4,
                label=f"{d.name} (ECE {d.calibration.ece:.3f})")  # fmt: skip
    ax.set_xlabel("predicted P(cheap answer is good enough)")
    ax.set_ylabel("observed rate")
    ax.set_title("Learned cascade confidence: reliability on the test split")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
