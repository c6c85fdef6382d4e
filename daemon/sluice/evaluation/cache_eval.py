"""`sluice eval cache`: hit rate and false-hit rate against the threshold.

Protocol (GPTCache's own benchmark, generalised): store every `a` with a
distinct answer, then query every `b`. A query hits when the exact layer
matches or the best semantic candidate's cosine is ≥ the threshold. A hit on
a label-0 pair, or on another pair's entry, is a false hit. The store and
lookup go through the daemon's own Pipeline and SemanticCache, so the figures
are those of the code that serves requests.

Two ways to store, chosen per set:
- retrieval: every `a` in one namespace (GPTCache's benchmark), so a query
  competes with every stored question;
- pairwise: each pair in a namespace of its own, used when queries also occur
  among the stored texts (PAWS and CANNOT reuse sentences across pairs: in
  one shared namespace a query would simply find itself, which measures
  nothing about the pair).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sluice.cache.keys import make_key, normalise
from sluice.cache.store import SemanticCache, served_candidate
from sluice.evaluation.datasets import Pair
from sluice.pipeline import Pipeline
from sluice.types import ChatMessage, GenParams, Usage

THRESHOLDS = tuple(round(0.85 + 0.01 * i, 2) for i in range(15))  # 0.85 … 0.99
# The verifier's min_probability grid (the curve with the verifier on): every hundredth from
# 0.90, where the defaults lie and two models are compared at equal false hits.
PROBABILITIES = (
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, *(round(0.90 + 0.01 * i, 2) for i in range(10))
)  # fmt: skip
SHOWN_THRESHOLDS = (0.85, 0.9, 0.93, 0.95, 0.97, 0.99)
SHOWN_PROBABILITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
_CHUNK = 64


@dataclass(frozen=True, slots=True)
class Outcome:
    label: int
    exact: bool
    # The score thresholds are applied to: the best candidate's cosine, or with the
    # verifier its P(same meaning) (None: no candidate, or kept to the exact layer).
    similarity: float | None
    # Whether the entry found is the pair's own `a`.
    own_entry: bool
    # With the verifier: every candidate's (P(same meaning), is the pair's own `a`),
    # nearest first; a threshold picks among them as the daemon does (served_candidate).
    candidates: tuple[tuple[float, bool], ...] = ()
    # For --errors: the query, the question of the entry found (with the verifier: of
    # each candidate, nearest first), and what decided when no candidate was scored.
    query: str = ""
    found: tuple[str, ...] = ()
    decision: str = ""
    stored: str = ""  # the pair's own `a`


@dataclass(frozen=True, slots=True)
class Row:
    threshold: float
    hit_rate: float
    false_hit_rate: float | None
    precision: float | None
    positives: int
    negatives: int
    hits: int
    false_hits: int


@dataclass(frozen=True, slots=True)
class Reach:
    """How many paraphrases reach the verifier at the recall threshold, and its cost.

    `embedded`: positives whose question the daemon embeds (not kept to the exact layer);
    `reached`: of those, the exact hits and those whose cosine to their own stored question
    is at least `threshold` (issue #18's "reach the verifier"). `runs_*`: verifier model
    runs per lookup, negatives and positives (every candidate up to max_pairs, score_all).
    """

    threshold: float
    positives: int
    embedded: int
    reached: int
    runs_negative: float
    runs_positive: float


async def _gather_chunks(coros: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(coros), _CHUNK):
        out += await asyncio.gather(*coros[start : start + _CHUNK])
    return out


def protocol_for(pairs: Sequence[Pair]) -> str:
    stored = {(p.history_a, normalise(p.a)) for p in pairs}
    overlap = any(
        (p.history_b, normalise(p.b)) in stored and normalise(p.b) != normalise(p.a) for p in pairs
    )
    return "pairwise" if overlap else "retrieval"


async def run_pairs(
    pipeline: Pipeline[SemanticCache],
    namespace: str,
    pairs: Sequence[Pair],
    protocol: str = "retrieval",
) -> list[Outcome]:
    """Store every a, query every b; one Outcome per pair."""
    outcomes, _ = await run_pairs_timed(pipeline, namespace, pairs, protocol)
    return outcomes


async def run_pairs_timed(
    pipeline: Pipeline[SemanticCache],
    namespace: str,
    pairs: Sequence[Pair],
    protocol: str = "retrieval",
) -> tuple[list[Outcome], float]:
    """`run_pairs`, and the wall-clock seconds of the lookups (embedding included)."""
    params = GenParams()
    ns = namespaces(namespace, protocol)
    await store_all(pipeline, pairs, ns)

    async def query(i: int, p: Pair) -> Outcome:
        key = make_key(ns(i), (*p.history_b, ChatMessage("user", p.b)), params)
        entry = await pipeline.cache.lookup_exact(key)
        if entry is not None:
            own_entry = normalise(entry.question) == normalise(p.a)
            return Outcome(p.label, True, 1.0, own_entry, query=p.b, found=(entry.question,),
                           decision="exact", stored=p.a)  # fmt: skip
        vector, why = await pipeline.question_vector(key)
        if vector is None:
            return Outcome(p.label, False, None, False, query=p.b, decision=f"skipped: {why}",
                           stored=p.a)  # fmt: skip

        def own(question: str) -> bool:
            return normalise(question) == normalise(p.a) and p.history_a == p.history_b

        cache = pipeline.cache
        if cache.verifier is None:
            # Threshold 0: the best candidate comes back, thresholds are applied below.
            result = await cache.lookup_semantic(key, vector, 0.0)
            score = result.similarity
        else:
            # Every candidate above the recall threshold, scored; min_probability is
            # applied below, to all of them.
            gate = cache.threshold_for(key.namespace, None, "threshold")
            result = await cache.lookup_semantic(
                key, vector, gate, min_probability=0.0, score_all=True
            )
            if not result.scored:
                decision = result.decided_by or "recall threshold"
                return Outcome(p.label, False, None, False, query=p.b, decision=decision,
                               stored=p.a)  # fmt: skip
            candidates = tuple((prob, own(e.question)) for e, prob in result.scored)
            found = tuple(e.question for e, _ in result.scored)
            best = max(c[0] for c in candidates)
            return Outcome(p.label, False, best, False, candidates, p.b, found, result.decided_by,
                           p.a)  # fmt: skip
        if result.entry is None:
            return Outcome(p.label, False, None, False, query=p.b, decision="cosine", stored=p.a)
        return Outcome(p.label, False, score, own(result.entry.question), query=p.b,
                       found=(result.entry.question,), decision="cosine", stored=p.a)  # fmt: skip

    started = time.perf_counter()
    outcomes = await _gather_chunks([query(i, p) for i, p in enumerate(pairs)])
    return outcomes, time.perf_counter() - started


def model_runs(o: Outcome) -> int:
    """The verifier model runs a lookup took (same word pieces and guard refusals take none)."""
    return len(o.candidates) if o.decision == "verifier" else 0


async def reach(
    pipeline: Pipeline[SemanticCache],
    pairs: Sequence[Pair],
    outcomes: Sequence[Outcome],
    threshold: float,
) -> Reach:
    """`Reach` of one set's outcomes (the verifier's run) at the recall `threshold`."""
    positives = [(p, o) for p, o in zip(pairs, outcomes, strict=True) if p.label == 1]
    embedded = [(p, o) for p, o in positives if not o.decision.startswith("skipped")]
    close = [p for p, o in embedded if not o.exact]
    vectors = await _vectors(pipeline, [t for p in close for t in (p.a, p.b)])
    reached = sum(o.exact for _, o in embedded) + sum(
        float(vectors[p.a] @ vectors[p.b]) >= threshold for p in close
    )

    def runs(label: int) -> float:
        counts = [model_runs(o) for p, o in zip(pairs, outcomes, strict=True) if p.label == label]
        return sum(counts) / len(counts) if counts else 0.0

    return Reach(threshold, len(positives), len(embedded), reached, runs(0), runs(1))


def format_reach(name: str, r: Reach) -> str:
    """One line of `Reach` for the printed tables."""
    share = f"{r.reached / r.embedded:.1%}" if r.embedded else "—"
    return (
        f"  {name}: {r.reached} of {r.embedded} embedded paraphrases reach the verifier at "
        f"cosine ≥ {r.threshold} ({share}; {r.positives - r.embedded} kept to the exact "
        f"layer); model runs per lookup {r.runs_negative:.2f} negatives, "
        f"{r.runs_positive:.2f} positives"
    )


def namespaces(namespace: str, protocol: str) -> Callable[[int], str]:
    """The namespace of pair i under `protocol` (`protocol_for`)."""

    def ns(i: int) -> str:
        return f"{namespace[:48]}-{i}" if protocol == "pairwise" else namespace

    return ns


async def store_all(
    pipeline: Pipeline[Any], pairs: Sequence[Pair], ns: Callable[[int], str]
) -> None:
    """Store every pair's `a` (answer "answer #i") in namespace `ns(i)`."""
    stores = [
        pipeline.store(
            ns(i),
            (*p.history_a, ChatMessage("user", p.a)),
            GenParams(),
            answer=f"answer #{i}",
            finish_reason="stop",
            usage=Usage(),
            model="eval",
            ttl_s=None,
        )
        for i, p in enumerate(pairs)
    ]
    await _gather_chunks(stores)


def served(o: Outcome, threshold: float) -> tuple[bool, bool, int | None]:
    """(hit, the hit is the pair's own entry, index of the served candidate) at `threshold`."""
    if o.candidates:
        i = served_candidate([prob for prob, _ in o.candidates], threshold)
        return i is not None, i is not None and o.candidates[i][1], i
    hit = o.exact or (o.similarity is not None and o.similarity >= threshold)
    return hit, hit and o.own_entry, 0 if hit else None


def errors(outcomes: Sequence[Outcome], threshold: float) -> list[dict[str, Any]]:
    """Every wrong hit and every missed paraphrase at `threshold`, one dict each (--errors).

    `cached` is the pair's stored question and `cosine` the query's to it (add_cosines);
    `found` the entry served, or for a miss the nearest candidate scored, with its `p`.
    """
    out = []
    for o in outcomes:
        hit, right, i = served(o, threshold)
        if (hit and not (o.label == 1 and right)) or (o.label == 1 and not right):
            kind = "wrong_hit" if hit else "missed_paraphrase"
            # A miss shows the nearest candidate: the one the daemon scores first.
            shown = i if i is not None else 0
            found = o.found[shown] if o.found else ""
            p = o.candidates[shown][0] if o.candidates else None
            decision = o.decision or ("verifier" if o.candidates else "cosine")
            out.append({"kind": kind, "label": o.label, "query": o.query, "cached": o.stored,
                        "cosine": None, "found": found, "p": None if p is None else round(p, 4),
                        "decision": decision, "served": hit})  # fmt: skip
    return out


async def add_cosines(pipeline: Pipeline[SemanticCache], rows: list[dict[str, Any]]) -> None:
    """Fill each error row's cosine of query and cached question (the store keeps none)."""
    vectors = await _vectors(pipeline, [r[k] for r in rows for k in ("query", "cached") if r[k]])
    for r in rows:
        if r["query"] in vectors and r["cached"] in vectors:
            r["cosine"] = round(float(vectors[r["query"]] @ vectors[r["cached"]]), 4)


async def _vectors(
    pipeline: Pipeline[SemanticCache], texts: Sequence[str]
) -> dict[str, npt.NDArray[np.float32]]:
    """Each distinct text's vector, embedded 256 at a time."""
    distinct = sorted(set(texts))
    vectors = {}
    for start in range(0, len(distinct), 256):
        chunk = distinct[start : start + 256]
        for text, e in zip(chunk, await pipeline.embed(chunk), strict=True):
            vectors[text] = e.vector
    return vectors


def rows(outcomes: Sequence[Outcome], thresholds: Sequence[float] = THRESHOLDS) -> list[Row]:
    positives = sum(o.label == 1 for o in outcomes)
    negatives = len(outcomes) - positives
    out = []
    for t in thresholds:
        hits = false_hits = right = 0
        negative_hits = 0
        for o in outcomes:
            hit, own_entry, _ = served(o, t)
            if not hit:
                continue
            hits += 1
            if o.label == 1 and own_entry:
                right += 1
            else:
                false_hits += 1
                negative_hits += o.label == 0
        out.append(
            Row(
                threshold=t,
                hit_rate=right / positives if positives else 0.0,
                false_hit_rate=negative_hits / negatives if negatives else None,
                precision=right / hits if hits else None,
                positives=positives,
                negatives=negatives,
                hits=hits,
                false_hits=false_hits,
            )
        )
    return out


def sample(pairs: list[Pair], limit: int | None, seed: int = 0) -> list[Pair]:
    if limit is None or len(pairs) <= limit:
        return pairs
    return random.Random(seed).sample(pairs, limit)  # noqa: S311 - sampling, not security


def as_json(
    default_threshold: float, results: dict[str, list[Row]], protocols: dict[str, str]
) -> dict[str, Any]:
    return {
        "default_threshold": default_threshold,
        "protocols": protocols,
        "sets": {
            name: [
                {k: v for k, v in asdict(r).items() if k not in {"hits", "false_hits"}}
                | {"hits": r.hits, "false_hits": r.false_hits}
                for r in table
            ]
            for name, table in results.items()
        },
    }


def _fmt(value: float | None) -> str:
    return "   —  " if value is None else f"{value:6.1%}"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of k successes in n (stays inside [0, 1] at k = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def false_hit_interval(r: Row) -> str:
    """The false-hit rate's 95 % interval, e.g. "0.0–1.0 %" ("—" without negatives)."""
    if r.false_hit_rate is None:
        return "—"
    low, high = wilson(round(r.false_hit_rate * r.negatives), r.negatives)
    return f"{100 * low:.1f}–{100 * high:.1f} %"


def format_table(
    results: dict[str, list[Row]],
    default_threshold: float,
    protocols: dict[str, str],
    column: str = "threshold",
) -> str:
    lines = []
    for name, table in results.items():
        first = table[0]
        lines.append(
            f"\n{name}  ({protocols[name]}; positives {first.positives}, "
            f"negatives {first.negatives})"
        )
        lines.append(
            f"  {column:>9}  hit rate  false-hit rate  (95 % CI)     precision   hits  false hits"
        )
        for r in table:
            mark = " *" if abs(r.threshold - default_threshold) < 1e-9 else "  "
            lines.append(
                f"  {r.threshold:.2f}{mark}     {_fmt(r.hit_rate)}     {_fmt(r.false_hit_rate)}"
                f"  {false_hit_interval(r):>13}  {_fmt(r.precision)}  {r.hits:5d}  "
                f"{r.false_hits:5d}"
            )
    lines.append(f"\n* = the configured default {column} ({default_threshold})")
    return "\n".join(lines)


def plot(
    results: dict[str, list[Row]],
    default_threshold: float,
    path: Path,
    *,
    xlabel: str = "cosine threshold",
    title: str = "Sluice semantic cache (all-MiniLM-L6-v2): hits vs false hits",
) -> None:
    import matplotlib  # noqa: PLC0415 - only the eval needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, table in results.items():
        ts = [r.threshold for r in table]
        if table[0].positives:
            left.plot(ts, [r.hit_rate for r in table], marker="o", ms=3, label=name)
        if table[0].negatives:
            right.plot(ts, [r.false_hit_rate for r in table], marker="o", ms=3, label=name)
    for ax, heading in ((left, "hit rate on paraphrases"), (right, "false-hit rate on negatives")):
        ax.axvline(default_threshold, color="grey", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_title(heading)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rows_from_json(data: dict[str, Any]) -> dict[str, list[Row]]:
    """The inverse of `as_json` (to re-render a saved run)."""
    return {name: [Row(**row) for row in table] for name, table in data["sets"].items()}


def markdown(
    results: dict[str, list[Row]],
    default_threshold: float,
    protocols: dict[str, str],
    shown: Sequence[float] = SHOWN_THRESHOLDS,
    column: str = "threshold",
) -> str:
    """The tables for docs/cache-eval.md."""
    out = [
        f"| set | protocol | {column} | hit rate (positives) | false-hit rate (negatives) "
        "| 95 % CI | precision | hits | false hits |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, table in results.items():
        for r in table:
            on_default = abs(r.threshold - default_threshold) < 1e-9
            if round(r.threshold, 2) not in shown and not on_default:
                continue
            mark = "**" if on_default else ""
            out.append(
                f"| {name} ({r.positives}+/{r.negatives}−) | {protocols[name]} "
                f"| {mark}{r.threshold:.2f}{mark} | {_fmt(r.hit_rate).strip()} "
                f"| {_fmt(r.false_hit_rate).strip()} | {false_hit_interval(r)} "
                f"| {_fmt(r.precision).strip()} "
                f"| {r.hits} | {r.false_hits} |"
            )
    return "\n".join(out)
