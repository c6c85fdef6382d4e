"""Could a small head on USE-multilingual vectors verify non-English cache hits? (issue #18)

    .venv/bin/python -m bench.use_pair_head --onnx-dir /tmp/use-m3 \\
        --site /tmp/embvenv/lib/python3.11/site-packages [--data DIR/cache] \\
        [--verifier DIR ...]

The multilingual semantic cache needs a verifier that reads Russian, German, Korean...; no
full-precision multilingual cross-encoder weights were found in a registry package
(docs/embedding-models.md). The cheapest candidate is a logistic head on the two questions'
USE-m3 vectors (u·v elementwise, |u − v|, cosine), i.e. a bi-encoder verifier. This measures
it against the cosine alone, both behind the daemon's order and number guards, on the
multilingual sets of `sluice eval cache` (ParaPhraser ru, PAWS-X de/ko, the Russian swaps and
look-alikes) and STS-B in ten languages (score ≥ 4.5 positive, ≤ 2.5 negative).

Protocol, fixed before any figure was seen on the test part: the head is fitted on the train
part (standardised features, L2 C = 0.1); a pair reaches the scorer when its cosine is at least
0.62 (USE's 90 %-recall threshold on the dev part, bench.embedders) and no guard vetoes it;
each scorer's threshold is the lowest that serves ≤ 0.5 % of the calibration part's
negatives, pooled over the sets (the issue's false-hit target); the test part is reported,
with Wilson 95 % intervals. `--site` adds the candidates' venv (scikit-learn; see
bench/embedder_candidates.py for its install); `--onnx-dir` is models/scripts/export_use.py's
output. `--verifier DIR` adds a cross-encoder verifier (a models/sluice-verifier layout, its
calibrated P as the daemon computes it) as one more scorer under the same gate and rule, so a
multilingual cross-encoder is read side by side with the head and the cosine (docs/cache-eval.md,
"A multilingual verifier"). Prints Markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.embedder_sets import stsb
from sluice.cli import default_data_dir
from sluice.embedding.model import OnnxEmbedder
from sluice.evaluation import verifier_data
from sluice.evaluation.cache_eval import wilson
from sluice.verifier.guards import refusal
from sluice.verifier.model import OnnxVerifier

RECALL_THRESHOLD = 0.62  # USE-m3's 90 %-recall cosine on the dev part (docs/embedding-models.md)
FALSE_HITS = 0.005
C = 0.1
SETS = ("paraphraser_ru", "pawsx_de", "pawsx_ko", "swaps_ru", "lookalikes_ru")
STSB = ("ru", "de", "es", "fr", "it", "nl", "pl", "pt", "ja", "zh")
Floats = npt.NDArray[np.float64]


def _rows(root: Path) -> list[tuple[str, str, str, str, int]]:
    """(set, part, a, b, label) of every pair measured."""
    rows = []
    for part in ("train", "calibration", "test"):
        for name, pairs in verifier_data.eval_sets(root, part, SETS).items():
            rows += [(name, part, p.a, p.b, p.label) for p in pairs]
    for pair_set in stsb(root, STSB):
        rows += [(f"stsb_{pair_set.language}", part, p.a, p.b, p.label)
                 for p, part in zip(pair_set.pairs, pair_set.parts, strict=True)]  # fmt: skip
    return rows


def _vectors(onnx_dir: Path, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    embedder = OnnxEmbedder(onnx_dir, threads=2, max_tokens=256, precision="fp32")
    vectors = []
    for i in range(0, len(texts), 256):
        vectors += [e.vector for e in embedder.embed(list(texts[i : i + 256]))]
    return np.stack(vectors).astype(np.float32)


def _threshold(scores: Floats, negatives: npt.NDArray[np.bool_]) -> float:
    """The lowest threshold serving at most FALSE_HITS of `negatives` (scores of non-reaching
    pairs are −inf)."""
    neg = np.sort(scores[negatives])[::-1]
    allowed = int(np.floor(FALSE_HITS * len(neg)))
    # Serve the `allowed` highest-scored negatives at most: just above the next one.
    return float(np.nextafter(neg[allowed], np.inf)) if allowed < len(neg) else -np.inf


def _rate(served: npt.NDArray[np.bool_]) -> str:
    k, n = int(served.sum()), len(served)
    if not n:
        return "—"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f} % ({100 * lo:.1f}–{100 * hi:.1f})"


def _verifier_scores(
    model_dir: Path, rows: Sequence[tuple[str, str, str, str, int]], reaches: npt.NDArray[np.bool_]
) -> Floats:
    """The verifier's P (query = b, cached = a, as the eval asks) where a pair reaches it."""
    model = OnnxVerifier(model_dir)
    out = np.full(len(rows), -np.inf)
    for i in np.flatnonzero(reaches):
        out[i] = model.score(rows[i][3], [rows[i][2]])[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--onnx-dir", type=Path, required=True)
    parser.add_argument(
        "--verifier",
        type=Path,
        action="append",
        default=[],
        help="a cross-encoder verifier's folder, scored as one more column",
    )
    parser.add_argument("--site", type=Path, action="append", default=[])
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    sys.path.extend(str(s) for s in args.site)
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - after --site
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415 - same

    root = args.data or default_data_dir() / "cache"
    rows = _rows(root)
    texts = sorted({t for r in rows for t in (r[2], r[3])})
    index = {t: i for i, t in enumerate(texts)}
    vectors = _vectors(args.onnx_dir, texts)
    u = vectors[[index[r[2]] for r in rows]]
    v = vectors[[index[r[3]] for r in rows]]
    cosine = (u * v).sum(axis=1).astype(np.float64)
    sets = np.array([r[0] for r in rows])
    part = np.array([r[1] for r in rows])
    label = np.array([r[4] for r in rows])
    guards = {"order_guard", "number_guard"}
    vetoed = np.array([refusal(r[2], r[3], guards) is not None for r in rows])
    reaches = (cosine >= RECALL_THRESHOLD) & ~vetoed

    features = np.hstack([u * v, np.abs(u - v), cosine[:, None]])
    train = part == "train"
    scaler = StandardScaler().fit(features[train])
    head: Any = LogisticRegression(C=C, max_iter=5000).fit(
        scaler.transform(features[train]), label[train]
    )
    scorers = {"cosine": cosine, "head": head.predict_proba(scaler.transform(features))[:, 1]}
    for model_dir in args.verifier:
        scorers[model_dir.name] = _verifier_scores(model_dir, rows, reaches)
    calibration_negatives = (part == "calibration") & (label == 0)
    test = part == "test"
    print(
        f"USE-m3 pair verifiers, test part; served = cosine ≥ {RECALL_THRESHOLD}, no guard "
        f"veto, score ≥ the threshold serving ≤ {FALSE_HITS:.1%} of calibration negatives\n"
    )
    thresholds = {}
    for name, raw in scorers.items():
        scores = np.where(reaches, raw, -np.inf)
        thresholds[name] = _threshold(scores, calibration_negatives)
        scorers[name] = scores
    print("| set | test +/− | " + " | ".join(
        f"{n} (≥ {t:.3f}): positives served | {n}: negatives served"
        for n, t in thresholds.items()) + " |")  # fmt: skip
    print("|---|---|" + "---|---|" * len(scorers))
    for name in [*sorted(set(sets[sets != "swaps_ru"])), "swaps_ru"]:
        own = test & (sets == name)
        cells = [f"{int((own & (label == 1)).sum())}/{int((own & (label == 0)).sum())}"]
        for scorer, scores in scorers.items():
            served = scores >= thresholds[scorer]
            cells += [_rate(served[own & (label == 1)]), _rate(served[own & (label == 0)])]
        print(f"| {name} | " + " | ".join(cells) + " |")
    negatives = test & (label == 0)
    print(f"\npooled test negatives: {int(negatives.sum())}; served: " + ", ".join(
        f"{n} {_rate((s >= thresholds[n])[negatives])}" for n, s in scorers.items()))  # fmt: skip
    print(
        f"vetoed by a guard: {_rate(vetoed[test & (label == 1)])} of test positives, "
        f"{_rate(vetoed[negatives])} of test negatives"
    )


if __name__ == "__main__":
    main()
