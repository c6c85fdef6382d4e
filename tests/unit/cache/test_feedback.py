"""Feedback on the cache's own answers: removed, narrowed, kept; shared and saved (issue #18)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from sluice.cache.entry import Entry
from sluice.cache.feedback import CacheFeedback
from sluice.cache.snapshot import Snapshotter
from sluice.cache.store import LookupResult, SemanticCache
from sluice.fleet.entry_codec import decode, encode
from sluice.telemetry.metrics import Metrics
from sluice.types import Usage
from tests.unit.cache.test_store import Clock, cache, key, near, put, unit


class Replica:
    """Records what the feedback told the other pods (the CacheReplica seam)."""

    def __init__(self) -> None:
        self.shared: list[tuple[Entry, npt.NDArray[np.float32] | None]] = []
        self.removed: list[str] = []

    def stored(self, entry: Entry, vector: npt.NDArray[np.float32] | None) -> None:
        self.shared.append((entry, vector))

    def invalidated(self, entry: Entry) -> None:
        self.removed.append(entry.id)

    def dropped(self, namespace: str | None) -> None:
        raise AssertionError("feedback never drops a namespace")


def _feedback(c: SemanticCache) -> tuple[CacheFeedback, Replica, Metrics]:
    replica, metrics = Replica(), Metrics()
    return CacheFeedback(c, replica, metrics, capacity=4), replica, metrics


def _count(metrics: Metrics, action: str) -> float:
    return metrics.cache_feedback.labels(action)._value.get()  # type: ignore[no-any-return]


async def test_a_wrong_semantic_hit_narrows_its_entry_to_closer_questions() -> None:
    c = cache(Clock())
    v = unit(1)
    entry = await put(c, "convert meters to feet", v)
    feedback, replica, metrics = _feedback(c)
    wrong = await c.lookup_semantic(key("convert feet to meters"), near(v, 0.98), 0.97)
    assert wrong.entry is not None
    feedback.served("r1", wrong)
    assert await feedback.judge("r1", 0.0, below=0.5) == "narrowed"
    assert entry.wrong_at == pytest.approx(wrong.similarity)
    # The same question, and any as far, is refused and says why; a closer one is served.
    again = await c.lookup_semantic(key("convert feet to meters"), near(v, 0.98), 0.97)
    assert again.entry is None
    assert "Feedback marked wrong" in again.reason
    closer = await c.lookup_semantic(key("convert meters into feet"), near(v, 0.995), 0.97)
    assert closer.entry is entry
    assert (await c.lookup_exact(key("convert meters to feet"))) is entry
    # Other pods are handed the narrowed entry with its vector.
    ((shared, vector),) = replica.shared
    assert shared.wrong_at == entry.wrong_at
    assert vector is not None
    assert float(vector @ v) == pytest.approx(1.0, abs=1e-5)
    assert _count(metrics, "narrowed") == 1
    # A judgement is used once.
    assert await feedback.judge("r1", 0.0, below=0.5) is None


@pytest.mark.parametrize("how", ["exact", "stored"])
async def test_a_wrong_answer_to_its_own_question_is_removed_everywhere(how: str) -> None:
    c = cache(Clock())
    entry = await put(c, "what is our refund window?", unit(2))
    feedback, replica, metrics = _feedback(c)
    if how == "exact":
        feedback.served("r1", LookupResult("exact", entry, 1.0, 0.97))
    else:
        feedback.stored("r1", entry)
    assert await feedback.judge("r1", 0.0, below=0.5) == "removed"
    assert c.entry(entry.id) is None
    assert replica.removed == [entry.id]
    assert _count(metrics, "removed") == 1


async def test_a_good_judgement_or_a_gone_entry_changes_nothing() -> None:
    c = cache(Clock())
    v = unit(3)
    entry = await put(c, "reset my password", v)
    feedback, replica, metrics = _feedback(c)
    hit = await c.lookup_semantic(key("how to reset password"), near(v, 0.98), 0.97)
    feedback.served("good", hit)
    assert await feedback.judge("good", 0.8, below=0.5) == "kept"
    feedback.served("late", hit)
    await c.invalidate_id(entry.id)
    assert await feedback.judge("late", 0.0, below=0.5) == "gone"
    assert entry.wrong_at == 0.0
    assert (replica.shared, replica.removed) == ([], [])
    assert (_count(metrics, "kept"), _count(metrics, "gone")) == (1, 1)
    # below = 0 turns it off: every judgement is good enough.
    other = await put(c, "close my account", unit(4))
    feedback.stored("off", other)
    assert await feedback.judge("off", 0.0, below=0.0) == "kept"
    assert c.entry(other.id) is other


async def test_misses_are_not_remembered_and_the_memory_is_bounded() -> None:
    c = cache(Clock())
    feedback, _, _ = _feedback(c)
    miss = await c.lookup_semantic(key("anything"), unit(5), 0.97)
    feedback.served("miss", miss)
    assert await feedback.judge("miss", 0.0, below=0.5) is None
    for i in range(6):
        feedback.stored(f"r{i}", await put(c, f"q{i}", unit(10 + i)))
    assert await feedback.judge("r0", 0.0, below=0.5) is None  # capacity 4: forgotten
    assert await feedback.judge("r5", 0.0, below=0.5) == "removed"


async def test_another_pods_narrower_entry_narrows_ours_and_never_widens_it() -> None:
    clock = Clock()
    here, there = cache(clock), cache(clock)
    v = unit(6)
    entry = await put(here, "ship to Berlin from Paris", v)
    assert await there.import_entry(entry, v) == "applied"
    here.mark_wrong(entry.id, 0.985)
    payload = encode(entry, v, "m", keep_question=True)
    assert await there.import_entry(decode(payload, clock.now).entry, v) == "present"
    copy = there.entry(entry.id)
    assert copy is not None
    assert copy.wrong_at == pytest.approx(0.985)
    here.mark_wrong(entry.id, 0.975)  # a later, farther wrong hit: the bar stays
    assert entry.wrong_at == pytest.approx(0.985)


async def test_the_mark_survives_a_snapshot_and_old_rows_read_as_unmarked(tmp_path: Path) -> None:
    clock = Clock()
    c = cache(clock)
    entry = await put(c, "translate cat to German", unit(7))
    plain = await put(c, "translate cat to French", unit(8))
    c.mark_wrong(entry.id, 0.99)
    folder = await Snapshotter(c, tmp_path, "m").write()
    # An unmarked entry's row is the 14 fields older versions write and read.
    lengths = {json.loads(line)[0]: len(json.loads(line)) for line in
               (folder / "entries.jsonl").read_text().splitlines()}  # fmt: skip
    assert lengths == {entry.id: 15, plain.id: 14}
    restored = cache(clock)
    assert Snapshotter(restored, tmp_path, "m").restore() == 2
    copy, other = restored.entry(entry.id), restored.entry(plain.id)
    assert copy is not None
    assert other is not None
    assert (copy.wrong_at, other.wrong_at) == (pytest.approx(0.99), 0.0)
    refused = await restored.lookup_semantic(
        key("translate dog to German"), near(unit(7), 0.98), 0.97
    )
    assert refused.entry is None


def test_a_payload_with_a_bad_mark_is_refused() -> None:
    clock = Clock()
    entry = Entry("0" * 32, "ns", "", "x", "q", "a", "stop", Usage(1, 1), "m", clock.now,
                  clock.now + 10, wrong_at=float("nan"))  # fmt: skip
    with pytest.raises(ValueError, match="wrong_at"):
        decode(encode(entry, None, "m", keep_question=True), clock.now)
