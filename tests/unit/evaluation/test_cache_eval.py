"""The cache evaluation's pure parts: intervals and the --errors rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from sluice.evaluation.cache_eval import Outcome, errors, model_runs, reach, wilson
from sluice.evaluation.datasets import Pair


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(0, 374, 0.0, 0.0102), (9, 963, 0.0049, 0.0177), (5, 10, 0.2366, 0.7634), (0, 0, 0.0, 1.0)],
)
def test_wilson_interval(k: int, n: int, low: float, high: float) -> None:
    assert wilson(k, n) == pytest.approx((low, high), abs=1e-4)


def test_errors_are_the_wrong_hits_and_the_missed_paraphrases_at_the_threshold() -> None:
    outcomes = [
        # A swap the verifier served at P 0.999: a wrong hit.
        Outcome(0, False, 0.999, False, ((0.999, True),), "to B from A", ("from A to B",),
                "verifier", "from A to B"),
        # A paraphrase refused at 0.9 < 0.97: missed, the nearest candidate shown.
        Outcome(1, False, 0.9, False, ((0.9, True),), "q", ("a",), "verifier", "a"),
        # A paraphrase served: no error.
        Outcome(1, False, 0.99, False, ((0.99, True),), "q2", ("a2",), "verifier", "a2"),
        # A paraphrase kept to the exact layer: missed, decided by coverage.
        Outcome(1, False, None, False, query="ru", decision="skipped: not covered", stored="ру"),
        # A negative refused by the order guard: no error.
        Outcome(0, False, None, False, query="x", decision="order_guard", stored="y"),
    ]  # fmt: skip
    rows = errors(outcomes, 0.97)
    assert [(r["kind"], r["query"], r["decision"], r["p"]) for r in rows] == [
        ("wrong_hit", "to B from A", "verifier", 0.999),
        ("missed_paraphrase", "q", "verifier", 0.9),
        ("missed_paraphrase", "ru", "skipped: not covered", None),
    ]
    assert rows[0]["served"]
    assert rows[0]["found"] == rows[0]["cached"] == "from A to B"


class _Embedder:
    """Unit vectors at the angle each text names ("0.7" -> cosine 0.7 to "1")."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    async def embed(self, texts: Sequence[str]) -> list[Any]:
        self.embedded += texts
        out = []
        for t in texts:
            c = float(t)
            out.append(SimpleNamespace(vector=np.array([c, (1 - c * c) ** 0.5], np.float32)))
        return out


def test_reach_counts_embedded_paraphrases_at_or_above_the_recall_threshold() -> None:
    pairs = [
        Pair("1", "0.85", 1),  # cosine 0.85: reaches at 0.80
        Pair("1", "0.7", 1),  # 0.70: short of 0.80
        Pair("1", "0.8", 1),  # exactly at the threshold: reaches
        Pair("1", "1", 1),  # an exact hit: reaches, nothing embedded for it
        Pair("1", "0.2", 1),  # kept to the exact layer: not among the embedded
        Pair("1", "0.9", 0),  # a negative: not counted, its model runs are
    ]
    outcomes = [
        Outcome(1, False, 0.99, False, ((0.99, True),), decision="verifier"),
        Outcome(1, False, None, False, decision="recall threshold"),
        Outcome(1, False, 1.0, False, ((1.0, True),), decision="word_pieces"),
        Outcome(1, True, 1.0, True, decision="exact"),
        Outcome(1, False, None, False, decision="skipped: not covered"),
        Outcome(0, False, 0.3, False, ((0.3, False), (0.2, False)), decision="verifier"),
    ]
    embedder = _Embedder()
    r = asyncio.run(reach(embedder, pairs, outcomes, 0.8))  # type: ignore[arg-type]
    assert (r.positives, r.embedded, r.reached) == (5, 4, 3)
    assert "0.2" not in embedder.embedded
    # Each distinct text of the three close pairs once; the exact hit's and the skipped one's
    # questions are not embedded.
    assert sorted(embedder.embedded) == ["0.7", "0.8", "0.85", "1"]
    # Same word pieces decide without the model; a refused negative ran it twice.
    assert [model_runs(o) for o in outcomes] == [1, 0, 0, 0, 0, 2]
    assert (r.runs_negative, r.runs_positive) == (2.0, pytest.approx(0.2))
