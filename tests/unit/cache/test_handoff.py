"""The Lookup → Store vector handoff: once, fresh, the same text only, bounded."""

from __future__ import annotations

import numpy as np

from sluice.cache.handoff import VectorHandoff
from tests.unit.cache.test_store import Clock, key, unit


def test_a_store_takes_the_vector_of_the_lookup_once() -> None:
    handoff = VectorHandoff(8, 60.0, clock=Clock())
    handoff.put(key("What is X?"), unit(1), "")
    taken = handoff.take(key("What is X?"))
    assert taken is not None
    assert np.array_equal(taken[0], unit(1))
    assert handoff.take(key("What is X?")) is None  # once
    assert len(handoff) == 0


def test_no_vector_and_its_reason_are_handed_over_too() -> None:
    handoff = VectorHandoff(8, 60.0, clock=Clock())
    handoff.put(key("Что это?"), None, "text not covered by the embedding model")
    assert handoff.take(key("Что это?")) == (None, "text not covered by the embedding model")


def test_only_the_same_text_under_the_same_key_takes_it() -> None:
    handoff = VectorHandoff(8, 60.0, clock=Clock())
    handoff.put(key("What is X?"), unit(1), "")
    # Same exact key (case and spacing fold), other text: the embedder may see it otherwise.
    assert key("what is  x?").exact == key("What is X?").exact
    assert handoff.take(key("what is  x?")) is None
    handoff.put(key("What is X?"), unit(1), "")
    assert handoff.take(key("What is X?", ns="other")) is None


def test_stale_vectors_are_not_handed_over_and_are_dropped() -> None:
    clock = Clock()
    handoff = VectorHandoff(8, 60.0, clock=clock)
    handoff.put(key("a"), unit(1), "")
    clock.now += 61
    assert handoff.take(key("a")) is None
    handoff.put(key("b"), unit(2), "")
    clock.now += 61
    handoff.put(key("c"), unit(3), "")  # the stale one in front goes
    assert len(handoff) == 1


def test_bounded_by_entries_oldest_first_and_off_at_zero() -> None:
    handoff = VectorHandoff(2, 60.0, clock=Clock())
    for text in ("a", "b", "c"):
        handoff.put(key(text), unit(1), "")
    assert len(handoff) == 2
    assert handoff.take(key("a")) is None
    assert handoff.take(key("c")) is not None
    off = VectorHandoff(0, 60.0, clock=Clock())
    off.put(key("a"), unit(1), "")
    assert len(off) == 0
