"""Stats.requests per namespace (issue #22): counted, summed, and bounded in memory."""

from __future__ import annotations

import pytest

from sluice.tally import OVERFLOW, RequestCounts, RequestTally


def test_counts_per_namespace_and_together() -> None:
    tally = RequestTally()
    tally.add("a", escalations=1, fallbacks=0, failed=False, cost_usd=0.5, baseline_cost_usd=2)
    tally.add("a", escalations=0, fallbacks=2, failed=True, cost_usd=0.25)
    tally.add("b", escalations=0, fallbacks=0, failed=False, cost_usd=0, baseline_cost_usd=1)
    assert tally.counts("a") == RequestCounts(2, 1, 2, 1, 0.75, 2.0)
    assert tally.counts("b") == RequestCounts(1, 0, 0, 0, 0.0, 1.0)
    assert tally.counts("never") == RequestCounts()
    total = tally.counts()
    assert (total.requests, total.errors) == (3, 1)
    assert total.baseline_cost_usd == pytest.approx(3.0)


def test_a_caller_cannot_grow_the_tally_without_bound() -> None:
    tally = RequestTally(max_namespaces=2)
    for name in ("a", "b", "c", "d"):
        tally.add(name, escalations=0, fallbacks=0, failed=False, cost_usd=0)
    assert tally.counts("c") == RequestCounts()
    assert tally.counts(OVERFLOW).requests == 2
    assert tally.counts().requests == 4
