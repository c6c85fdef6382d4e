"""`sluice eval cache --feedback`: what judging wrong hits wrong (Feedback) buys and costs.

Feedback narrows (or removes) the entry a wrong hit came from, so what it can change is the
other questions that reach the same entry. Protocol, per set, at the defaults (the daemon's
own Lookup path and `CacheFeedback`):

1. every distinct stored question `a` (with its history) in a namespace of its own, and
   every pair's query `b` asked there: the pairs of one stored question are the users
   who reach one entry;
2. the pairs split in two halves at random (seed 0): `first` are users who judge every
   answer they are served, `later` are users who come after them;
3. look up `later` (before), then `first`, judging every wrong hit wrong as a user would
   (THUMBS_DOWN: the entry is narrowed, or removed when it was the question's own), then
   `later` again (after), then `first` again.

`later` before → after is what one user's judgement does for another user's question on
the same entry: wrong hits it spares, right hits it costs. `first` again is whether a judged
question is served wrongly again. Every user judging every wrong hit is the most feedback a
deployment can get: the figures bound what it can do.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sluice.cache.keys import normalise
from sluice.cache.store import LookupResult
from sluice.evaluation.cache_eval import store_all
from sluice.evaluation.datasets import Pair
from sluice.pipeline import Pipeline
from sluice.types import ChatMessage, GenParams

_CHUNK = 64
_WRONG = 0.0  # THUMBS_DOWN's quality


@dataclass(frozen=True, slots=True)
class Tally:
    """Hits of one half: wrong ones, and right ones of its positives."""

    positives: int
    negatives: int
    wrong_hits: int
    right_hits: int


@dataclass(frozen=True, slots=True)
class FeedbackFigures:
    shared_entries: int  # stored questions that more than one pair asks about
    judged: int  # wrong hits of `first`, each judged wrong
    narrowed: int
    removed: int
    later_before: Tally
    later_after: Tally
    first_before: Tally
    first_after: Tally


def _wrong(pair: Pair, result: LookupResult) -> bool | None:
    """None: a miss; else whether the hit is wrong (a negative, or another pair's entry)."""
    entry = result.entry
    if entry is None:
        return None
    own = normalise(entry.question) == normalise(pair.a) and pair.history_a == pair.history_b
    return not (pair.label == 1 and own)


def _tally(pairs: Sequence[Pair], verdicts: Sequence[bool | None]) -> Tally:
    return Tally(
        positives=sum(p.label == 1 for p in pairs),
        negatives=sum(p.label == 0 for p in pairs),
        wrong_hits=sum(v is True for v in verdicts),
        right_hits=sum(v is False for v in verdicts),
    )


async def feedback_run(
    pipeline: Pipeline[Any], namespace: str, pairs: Sequence[Pair], seed: int = 0
) -> FeedbackFigures:
    # One namespace per stored question: group k holds the first pair's `a` of its kind.
    groups: dict[tuple[tuple[ChatMessage, ...], str], int] = {}
    firsts: list[Pair] = []
    of_pair = []
    for p in pairs:
        k = groups.setdefault((p.history_a, normalise(p.a)), len(groups))
        if k == len(firsts):
            firsts.append(p)
        of_pair.append(k)
    await store_all(pipeline, firsts, lambda k: f"{namespace[:40]}-{k}")

    def ns(i: int) -> str:
        return f"{namespace[:40]}-{of_pair[i]}"

    sizes = Counter(of_pair)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)  # noqa: S311 - sampling, not security
    half = len(order) // 2
    first, later = order[:half], order[half:]
    actions: list[str] = []

    async def ask(i: int, judge: bool) -> bool | None:
        p = pairs[i]
        messages = (*p.history_b, ChatMessage("user", p.b))
        result = await pipeline.lookup(ns(i), messages, GenParams())
        wrong = _wrong(p, result)
        if judge and wrong:
            request_id = f"eval-{i}"
            pipeline.cache_feedback.served(request_id, result)
            below = pipeline.runtime.settings.cache.feedback_below
            action = await pipeline.cache_feedback.judge(request_id, _WRONG, below)
            actions.append(action or "")
        return wrong

    async def run(indices: list[int], judge: bool = False) -> Tally:
        verdicts: list[bool | None] = []
        for start in range(0, len(indices), _CHUNK):
            chunk = indices[start : start + _CHUNK]
            verdicts += await asyncio.gather(*(ask(i, judge) for i in chunk))
        return _tally([pairs[i] for i in indices], verdicts)

    later_before = await run(later)
    first_before = await run(first, judge=True)
    later_after = await run(later)
    first_after = await run(first)
    return FeedbackFigures(
        sum(n > 1 for n in sizes.values()), len(actions), actions.count("narrowed"),
        actions.count("removed"), later_before, later_after, first_before, first_after,
    )  # fmt: skip


def as_json(figures: dict[str, FeedbackFigures]) -> dict[str, Any]:
    return {name: asdict(f) for name, f in figures.items()}


def format_table(figures: dict[str, FeedbackFigures]) -> str:
    """One row per set: what judging `first`'s wrong hits did to `later` and to `first`."""
    head = (
        f"{'set':<32} {'shared':>6} {'judged (n/r)':>12} {'later: wrong hits':>18} "
        f"{'later: right hits':>18} {'first again: wrong':>19} {'first: right hits':>18}"
    )
    lines = [head, "-" * len(head)]
    for name, f in figures.items():
        lb, la, fb, fa = f.later_before, f.later_after, f.first_before, f.first_after
        lines.append(
            f"{name:<32} {f.shared_entries:>6} {f'{f.judged} ({f.narrowed}/{f.removed})':>12} "
            f"{f'{lb.wrong_hits} → {la.wrong_hits}':>18} "
            f"{f'{lb.right_hits} → {la.right_hits} /{lb.positives}':>18} "
            f"{f'{fb.wrong_hits} → {fa.wrong_hits}':>19} "
            f"{f'{fb.right_hits} → {fa.right_hits} /{fb.positives}':>18}"
        )
    return "\n".join(lines)
