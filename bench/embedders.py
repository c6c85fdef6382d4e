"""Embedding models side by side: paraphrase recall at the recall threshold, false proposals,
ms per text on one core, memory. For choosing the cache's embedding model (issue #18).

    .venv/bin/python -m bench.embedders [--data DIR/cache] \\
        --site /tmp/embvenv/lib/python3.11/site-packages [--per-label 1000] [--models ...]

(see bench/embedder_candidates.py for the candidates' venv). Each model runs in a process of
its own on one thread. A pair is *proposed* when the cosine of its two texts is at least the
model's recall threshold: what reaches the verifier. Two operating points, both chosen on the
dev part (train + calibration of sluice.evaluation.splits) and reported on the test part:

- "equal false proposals": each model's threshold proposes the same share of dev negatives
  (mean over the sets) as the shipped MiniLM does at the daemon's recall_threshold 0.80;
- "recall 90 %": the highest threshold that proposes ≥ 90 % of dev positives (the #18 target).

Rates carry Wilson 95 % intervals. Prints Markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.common import REPO
from bench.embedder_candidates import CANDIDATES, ONE_THREAD, QUESTIONS
from bench.embedder_sets import PairSet, load
from sluice.cli import default_data_dir
from sluice.evaluation.cache_eval import wilson

Floats = npt.NDArray[np.float64]
REFERENCE = "minilm"
REFERENCE_THRESHOLD = 0.80  # CacheSettings.verifier.recall_threshold
TARGET_RECALL = 0.90
_GRID = np.round(np.arange(0.0, 1.0005, 0.0005), 4)


@dataclass(frozen=True, slots=True)
class Scores:
    """Cosines of one set's positives and negatives, and which are in the test part."""

    key: str
    positives: Floats
    negatives: Floats
    positive_test: npt.NDArray[np.bool_]
    negative_test: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Rate:
    hits: int
    total: int

    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.total)

    def cell(self) -> str:
        if self.total == 0:
            return "–"
        lo, hi = self.interval()
        return f"{100 * self.hits / self.total:.1f} ({100 * lo:.1f}–{100 * hi:.1f})"


def scores(pair_set: PairSet, vector: Callable[[str], npt.NDArray[np.float32]]) -> Scores:
    """Cosines per pair; in a retrieval set a query's negative is its nearest other `a`."""
    pos, neg, pos_test, neg_test = [], [], [], []
    if pair_set.retrieval:
        stored = list(dict.fromkeys(p.a for p in pair_set.pairs))
        matrix = np.stack([vector(t) for t in stored])
        index = {t: i for i, t in enumerate(stored)}
        for pair, part in zip(pair_set.pairs, pair_set.parts, strict=True):
            sims = matrix @ vector(pair.b)
            pos.append(float(sims[index[pair.a]]))
            sims[index[pair.a]] = -1.0
            neg.append(float(sims.max()))
            pos_test.append(part == "test")
            neg_test.append(part == "test")
    else:
        for pair, part in zip(pair_set.pairs, pair_set.parts, strict=True):
            cosine = float(vector(pair.a) @ vector(pair.b))
            (pos if pair.label else neg).append(cosine)
            (pos_test if pair.label else neg_test).append(part == "test")
    return Scores(
        pair_set.key,
        np.asarray(pos),
        np.asarray(neg),
        np.asarray(pos_test, dtype=bool),
        np.asarray(neg_test, dtype=bool),
    )


def _mean_share(values: Sequence[tuple[Floats, npt.NDArray[np.bool_]]]) -> Floats:
    """For every grid threshold, the mean over sets of the share of dev values ≥ it."""
    shares = [
        (v[~test][:, None] >= _GRID[None, :]).mean(axis=0) for v, test in values if (~test).any()
    ]
    mean: Floats = np.mean(shares, axis=0)
    return mean


def threshold_for_false_share(sets: Sequence[Scores], share: float) -> float:
    """The lowest threshold whose mean dev share of proposed negatives is ≤ `share`."""
    curve = _mean_share([(s.negatives, s.negative_test) for s in sets if s.negatives.size])
    return float(_GRID[int(np.argmax(curve <= share + 1e-12))])


def threshold_for_recall(sets: Sequence[Scores], recall: float) -> float:
    """The highest threshold whose mean dev recall is ≥ `recall`."""
    curve = _mean_share([(s.positives, s.positive_test) for s in sets if s.positives.size])
    return float(_GRID[np.nonzero(curve >= recall - 1e-12)[0].max()])


def false_share(sets: Sequence[Scores], threshold: float) -> float:
    curve = _mean_share([(s.negatives, s.negative_test) for s in sets if s.negatives.size])
    return float(curve[int(np.argmin(np.abs(_GRID - threshold)))])


def rates(s: Scores, threshold: float) -> tuple[Rate, Rate]:
    """Test-part recall of positives and share of negatives proposed at `threshold`."""
    pos, neg = s.positives[s.positive_test], s.negatives[s.negative_test]
    return (
        Rate(int((pos >= threshold).sum()), pos.size),
        Rate(int((neg >= threshold).sum()), neg.size),
    )


def auc(s: Scores) -> float:
    """Test-part ROC AUC: P(a positive's cosine > a negative's), ties half."""
    pos, neg = s.positives[s.positive_test], s.negatives[s.negative_test]
    if not pos.size or not neg.size:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + ties / 2)


def _run_worker(
    name: str, texts: Path, site: Sequence[Path], runs: int, onnx_dir: Path | None
) -> tuple[dict[str, float], npt.NDArray[np.float32]]:
    out = texts.with_name(f"{name}.npy")
    cmd = [
        sys.executable,
        "-m",
        "bench.embedder_candidates",
        name,
        "--texts",
        str(texts),
        "--out",
        str(out),
        "--runs",
        str(runs),
    ]
    for s in site:
        cmd += ["--site", str(s)]
    if onnx_dir is not None:
        cmd += ["--onnx-dir", str(onnx_dir)]
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    stats: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return stats, np.load(out)


def _measured(
    name: str, texts: Path, args: argparse.Namespace, reuse: bool
) -> tuple[dict[str, float], npt.NDArray[np.float32]]:
    """A worker's figures and vectors: run now, or read from `--keep` when the texts match."""
    saved = texts.with_name(f"{name}.json")
    if reuse and saved.is_file() and texts.with_name(f"{name}.npy").is_file():
        return json.loads(saved.read_text()), np.load(texts.with_name(f"{name}.npy"))
    stats, vectors = _run_worker(name, texts, args.site, args.runs, args.onnx_dir)
    saved.write_text(json.dumps(stats))
    return stats, vectors


def _print_operating_point(
    title: str,
    names: Sequence[str],
    thresholds: dict[str, float],
    per_model: dict[str, list[Scores]],
) -> None:
    print(f"\n### {title}\n")
    print(
        "| set / language | test +/− | "
        + " | ".join(f"{n} recall % | {n} false proposals %" for n in names)
        + " |"
    )
    print("|---|---:|" + "---:|---:|" * len(names))
    keys = [s.key for s in per_model[names[0]]]
    pooled = {n: [Rate(0, 0), Rate(0, 0)] for n in names}
    for i, key in enumerate(keys):
        first = per_model[names[0]][i]
        size = f"{int(first.positive_test.sum())}/{int(first.negative_test.sum())}"
        cells = []
        for n in names:
            r, f = rates(per_model[n][i], thresholds[n])
            cells += [r.cell(), f.cell()]
            pr, pf = pooled[n]
            pooled[n] = [
                Rate(pr.hits + r.hits, pr.total + r.total),
                Rate(pf.hits + f.hits, pf.total + f.total),
            ]
        print(f"| {key} | {size} | " + " | ".join(cells) + " |")
    cells = [c.cell() for n in names for c in pooled[n]]
    print("| **all (pooled)** | | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_dir() / "cache",
        help="the labelled sets (default: $SLUICE_DATA_DIR/cache, else data/cache; docs/data.md)",
    )
    parser.add_argument(
        "--site",
        type=Path,
        action="append",
        default=[],
        help="site-packages of the candidates' venv (repeatable)",
    )
    parser.add_argument("--models", nargs="+", choices=list(CANDIDATES))
    parser.add_argument(
        "--onnx-dir", type=Path, help="use-m3-onnx: the output of models/scripts/export_use.py"
    )
    parser.add_argument(
        "--per-label",
        type=int,
        default=1000,
        help="at most this many positives and negatives per set (0: all)",
    )
    parser.add_argument("--runs", type=int, default=200, help="timed single-text calls")
    parser.add_argument(
        "--latency-only",
        type=int,
        metavar="ROUNDS",
        help="only ms per text and memory: every model's worker in turn, ROUNDS times",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep vectors and figures here; a rerun on the same texts reuses them",
    )
    args = parser.parse_args()
    # After the project's packages, as in the workers: to find the candidates' weight files.
    sys.path.extend(str(s) for s in args.site)
    models = args.models or [m for m in CANDIDATES if args.onnx_dir or m != "use-m3-onnx"]
    names = [REFERENCE, *[m for m in models if m != REFERENCE]]
    if args.latency_only:
        _latency_only(names, args)
        return
    sets = load(args.data, args.per_label)
    texts = list(dict.fromkeys(t for s in sets for p in s.pairs for t in (p.a, p.b)))
    print(f"{len(sets)} sets, {len(texts):,} distinct texts; models: {', '.join(names)}")
    per_model: dict[str, list[Scores]] = {}
    stats: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sluice-embedders-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        path = work / "texts.json"
        text_json = json.dumps(texts, ensure_ascii=False)
        same_texts = path.is_file() and path.read_text(encoding="utf-8") == text_json
        path.write_text(text_json, encoding="utf-8")
        for name in names:
            stats[name], vectors = _measured(name, path, args, reuse=same_texts)
            row = {t: vectors[i] for i, t in enumerate(texts)}
            per_model[name] = [scores(s, row.__getitem__) for s in sets]
            print(f"  {name}: {stats[name]['bulk_texts_per_s']:.0f} texts/s", flush=True)
    share = false_share(per_model[REFERENCE], REFERENCE_THRESHOLD)
    equal = {n: threshold_for_false_share(per_model[n], share) for n in names}
    equal[REFERENCE] = REFERENCE_THRESHOLD
    recall = {n: threshold_for_recall(per_model[n], TARGET_RECALL) for n in names}
    _print_models(names, stats, equal, recall, share, args.onnx_dir)
    _print_operating_point(
        f"Equal false proposals: thresholds proposing {100 * share:.1f} % of dev negatives "
        f"(MiniLM at {REFERENCE_THRESHOLD}); test part",
        names,
        equal,
        per_model,
    )
    _print_operating_point(
        f"Recall {100 * TARGET_RECALL:.0f} % on dev; test part", names, recall, per_model
    )
    print("\n### ROC AUC of the cosine on the test part (threshold-free)\n")
    print("| set / language | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for i, s in enumerate(per_model[names[0]]):
        print(f"| {s.key} | " + " | ".join(f"{auc(per_model[n][i]):.3f}" for n in names) + " |")


def _latency_only(names: Sequence[str], args: argparse.Namespace) -> None:
    """Workers in turn, round after round, so that load from elsewhere hits every model alike."""
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="sluice-embedders-") as tmp:
        path = Path(tmp) / "texts.json"
        path.write_text(json.dumps(list(QUESTIONS.values()), ensure_ascii=False), encoding="utf-8")
        for _ in range(args.latency_only):
            for name in names:
                runs[name].append(_run_worker(name, path, args.site, args.runs, args.onnx_dir)[0])
    print(f"\n### ms per text, one thread: median over {args.latency_only} rounds of each p50\n")
    print("| model | p50 ms en (tokens) | p50 ms ru (tokens) | model RSS MB loaded |")
    print("|---|---:|---:|---:|")
    for name in names:
        r = runs[name]

        def med(key: str, r: list[dict[str, float]] = r) -> float:
            return float(np.median([x[key] for x in r]))

        print(
            f"| {name} | {med('p50_ms_en'):.2f} ({r[0]['tokens_en']:.0f}) | "
            f"{med('p50_ms_ru'):.2f} ({r[0]['tokens_ru']:.0f}) | "
            f"{med('rss_loaded_mb') - med('rss_base_mb'):.0f} |"
        )


def _print_models(
    names: Sequence[str],
    stats: dict[str, dict[str, float]],
    equal: dict[str, float],
    recall: dict[str, float],
    share: float,
    onnx_dir: Path | None,
) -> None:
    print("\n### Models (one thread each)\n")
    print(
        "| model | threshold (equal FP) | threshold (recall 90 %) | p50 ms en (tokens) | "
        "p50 ms ru (tokens) | model RSS MB loaded / bulk | peak RSS MB | bulk texts/s | "
        "MB on disk |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in names:
        s = stats[n]
        files = CANDIDATES[n].files(onnx_dir)
        size = sum(f.stat().st_size for f in files) / 1e6
        print(
            f"| {n}: {CANDIDATES[n].model} | {equal[n]:.3f} | {recall[n]:.3f} | "
            f"{s['p50_ms_en']:.2f} ({s['tokens_en']:.0f}) | {s['p50_ms_ru']:.2f} "
            f"({s['tokens_ru']:.0f}) | {s['rss_loaded_mb'] - s['rss_base_mb']:.0f} / "
            f"{s['rss_after_bulk_mb'] - s['rss_base_mb']:.0f} | "
            f"{s['rss_peak_mb']:.0f} | {s['bulk_texts_per_s']:.0f} | {size:.1f} |"
        )
    print(
        f"\nMean dev share of negatives proposed by {REFERENCE} at {REFERENCE_THRESHOLD}: "
        f"{100 * share:.2f} %"
    )
    print("\nSources, licences and weight files (sha256):")
    for n in names:
        print(f"  {n}: {CANDIDATES[n].source}; {CANDIDATES[n].licence}")
        for f in CANDIDATES[n].files(onnx_dir):
            with f.open("rb") as weights:
                digest = hashlib.file_digest(weights, "sha256").hexdigest()
            print(f"  {n}: {f.name} {f.stat().st_size:,} bytes {digest}")


if __name__ == "__main__":
    main()
