"""The cache evaluation's pure parts: intervals and the --errors rows."""

from __future__ import annotations

import pytest

from sluice.evaluation.cache_eval import Outcome, errors, wilson


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
