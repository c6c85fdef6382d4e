"""The learned confidence with and without a group of answer features, out of fold.

    .venv/bin/python -m bench.confidence_features [--replay data/routing/gsm8k/gsm8k_responses.csv]
        [--seeds 0 1 2] [--without grounding] [--boot 1000] [--cache-dir DIR]

Decides whether answer features earn their place *without reading the test split*: per seed,
`sluice eval routing`'s split and its four cross-fitted fit/calibrate parts of the non-test
half; on each part the cheapest tier's confidence is fitted (components and L2 chosen on the
part's calibrate rows, as `fit_tier_confidence` does) with every feature and without the named
group, and scored on that part's calibrate rows. The four parts' scores are pooled: every
non-test prompt judged by models that did not see it. Prints AUC per seed with a paired
bootstrap 95 % interval of the difference (rows resampled). The test half is never read.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sluice.cascade.learned import ANSWER_FEATURES, GROUNDING_FEATURES, READING_FEATURES
from sluice.cli import default_model_dir
from sluice.config import load_settings
from sluice.evaluation.replay_data import load_replay
from sluice.evaluation.routing_eval import (
    Tiers,
    answers,
    cross_fit,
    fit_tier_confidence,
    matrix,
    split,
)
from sluice.evaluation.routing_run import vectors_for
from sluice.learning.logistic import auc

GROUPS = {"grounding": GROUNDING_FEATURES, "reading": READING_FEATURES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replay", type=Path, default=Path("data/routing/gsm8k/gsm8k_responses.csv"))
    ap.add_argument("--config", type=Path, default=Path("examples/routing-replay.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--without", choices=sorted(GROUPS), default="grounding")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--cache-dir", type=Path, default=Path(".venv/sluice-eval-cache"))
    args = ap.parse_args()

    settings = load_settings(args.config)
    data = load_replay(args.replay)
    tiers = Tiers.from_settings(settings, data)
    vectors, _ = vectors_for(settings, default_model_dir(), [data], args.cache_dir)
    reduced = tuple(f for f in ANSWER_FEATURES if f not in GROUPS[args.without])
    cheap = tiers.models[0]
    print(f"{data.name}: {len(data.rows)} prompts; {cheap}'s confidence, out of fold on the "
          f"non-test half ({args.folds} parts); all {len(ANSWER_FEATURES)} features vs without "
          f"{args.without} ({len(reduced)})")  # fmt: skip
    print("| seed | rows | AUC all | AUC without | difference [95 % CI] |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        parts = cross_fit(split(data.rows, seed), args.folds)
        scores: dict[str, list[np.ndarray]] = {"all": [], "without": []}
        labels = []
        for part in parts:
            x, a = matrix(part.cal, vectors), answers(part.cal, cheap)
            for key, feats in (("all", ANSWER_FEATURES), ("without", reduced)):
                scorer = fit_tier_confidence(
                    part, tiers, 0, vectors, margin=args.margin, model_id="", features=feats
                )
                scores[key].append(scorer.probability(x, a))
            labels.append(tiers.good(part.cal, 0, args.margin))
        y = np.concatenate(labels)
        full, less = np.concatenate(scores["all"]), np.concatenate(scores["without"])
        rng = np.random.default_rng(seed)
        diffs = []
        for _ in range(args.boot):
            i = rng.integers(0, len(y), len(y))
            if y[i].all() or not y[i].any():
                continue
            diffs.append(auc(full[i], y[i]) - auc(less[i], y[i]))
        lo, hi = np.quantile(diffs, [0.025, 0.975])
        a_full, a_less = auc(full, y), auc(less, y)
        print(f"| {seed} | {len(y)} | {a_full:.3f} | {a_less:.3f} | "
              f"{a_full - a_less:+.3f} [{lo:+.3f}, {hi:+.3f}] |")  # fmt: skip


if __name__ == "__main__":
    main()
