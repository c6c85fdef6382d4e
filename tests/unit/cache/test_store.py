"""SemanticCache with synthetic vectors and a fake clock (no model, no network)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sluice.cache.keys import make_key
from sluice.cache.store import SemanticCache
from sluice.config import CacheSettings, NamespaceCacheSettings
from sluice.errors import InvalidArgument, NotFound
from sluice.telemetry.metrics import Metrics
from sluice.types import ChatMessage, GenParams, Usage

DIMS = 16


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, cos: float, seed: int = 99) -> np.ndarray:
    """A unit vector with cosine `cos` to v."""
    r = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
    r -= (r @ v) * v
    r /= np.linalg.norm(r)
    out = cos * v + np.sqrt(1 - cos**2) * r
    return (out / np.linalg.norm(out)).astype(np.float32)


def key(text: str, ns: str = "ns", history: tuple[ChatMessage, ...] = ()):  # type: ignore[no-untyped-def]
    return make_key(ns, (*history, ChatMessage("user", text)), GenParams())


def cache(clock: Clock, **overrides) -> SemanticCache:  # type: ignore[no-untyped-def]
    settings = CacheSettings(**{"ttl_s": 100.0, "ttl_jitter": 0.1, **overrides})
    return SemanticCache(settings, DIMS, Metrics(), clock=clock, rng=random.Random(7))


async def put(c: SemanticCache, text: str, vec, **kw):  # type: ignore[no-untyped-def]
    entry, _ = await c.store(
        key(text, **kw), vec, answer=f"answer to {text}", finish_reason="stop",
        usage=Usage(10, 20), model="m",
    )  # fmt: skip
    return entry


async def test_exact_then_semantic_hit_and_threshold() -> None:
    clock = Clock()
    c = cache(clock)
    v = unit(1)
    stored = await put(c, "delete a file", v)
    assert await c.lookup_exact(key("Delete a FILE")) is stored
    hit = await c.lookup_semantic(key("remove a file"), near(v, 0.98), 0.97)
    assert hit.outcome == "semantic"
    assert hit.entry is stored
    assert hit.similarity == pytest.approx(0.98, abs=1e-4)
    miss = await c.lookup_semantic(key("delete a directory"), near(v, 0.95), 0.97)
    assert miss.outcome == "miss"
    assert miss.entry is None
    assert "0.95" in miss.reason
    counts = c.stats()
    assert (counts.exact_hits, counts.semantic_hits, counts.misses) == (1, 1, 1)
    c.close()


async def test_namespaces_and_conversations_never_share_answers() -> None:
    c = cache(Clock())
    v = unit(2)
    await put(c, "explain more", v, ns="a")
    assert (await c.lookup_semantic(key("explain more", ns="b"), v, 0.97)).entry is None
    assert await c.lookup_exact(key("explain more", ns="b")) is None
    other_context = (ChatMessage("user", "What is DNS?"), ChatMessage("assistant", "Names."))
    assert (await c.lookup_semantic(key("explain more", "a", other_context), v, 0.97)).entry is None
    c.close()


async def test_ttl_with_jitter_and_expired_entries_are_never_served() -> None:
    clock = Clock()
    c = cache(clock)
    expiries = []
    for i in range(50):
        expiries.append((await put(c, f"q{i}", unit(100 + i))).expires - clock.now)
    assert min(expiries) >= 90.0
    assert max(expiries) <= 110.0
    assert max(expiries) - min(expiries) > 5.0, "jitter spreads expiries"
    clock.now += 111
    assert await c.lookup_exact(key("q0")) is None
    assert (await c.lookup_semantic(key("other"), unit(101), 0.97)).entry is None
    c.reap_expired()
    assert len(c.entries) == 0
    assert c.stats().expirations == 50
    c.close()


async def test_lru_eviction_at_max_entries_keeps_recently_used() -> None:
    c = cache(Clock(), max_entries=3)
    for i in range(3):
        await put(c, f"q{i}", unit(i))
    assert await c.lookup_exact(key("q0")) is not None  # q0 is now most recent
    await put(c, "q3", unit(3))
    assert await c.lookup_exact(key("q1")) is None
    assert await c.lookup_exact(key("q0")) is not None
    assert len(c.entries) == 3
    assert c.stats().evictions == 1
    c.close()


async def test_max_bytes_bounds_the_cache() -> None:
    c = cache(Clock(), max_bytes=20_000)
    for i in range(200):
        await put(c, f"question {i} " + "x" * 500, unit(i))
    assert c.bytes <= 20_000
    assert 0 < len(c.entries) < 200
    c.close()


async def test_store_replaces_same_exact_key() -> None:
    c = cache(Clock())
    first = await put(c, "same", unit(5))
    _, replaced = await c.store(
        key("same"), unit(5), answer="new", finish_reason="stop", usage=Usage(), model="m"
    )
    assert replaced
    assert first.id not in c.entries
    assert (await c.lookup_exact(key("same"))).answer == "new"  # type: ignore[union-attr]
    c.close()


async def test_invalidate_by_id_namespace_and_all() -> None:
    c = cache(Clock())
    a = await put(c, "a", unit(1), ns="one")
    await put(c, "b", unit(2), ns="one")
    await put(c, "c", unit(3), ns="two")
    assert await c.invalidate_id(a.id) == 1
    with pytest.raises(NotFound):
        await c.invalidate_id(a.id)
    assert await c.invalidate_namespace("one") == 1
    assert await c.lookup_exact(key("c", ns="two")) is not None
    assert (await c.lookup_semantic(key("zz", ns="two"), unit(3), 0.97)).entry is not None
    assert await c.invalidate_namespace(None) == 1
    assert len(c.entries) == 0
    assert c.bytes == 0
    c.close()


def test_threshold_override_may_not_go_below_floor() -> None:
    strict = NamespaceCacheSettings(threshold=0.99, floor=0.99)
    c = cache(Clock(), threshold=0.97, floor=0.95, namespaces={"strict": strict})
    assert c.threshold_for("any", None, "threshold") == 0.97
    assert c.threshold_for("any", 0.96, "threshold") == 0.96
    assert c.threshold_for("strict", None, "threshold") == 0.99
    with pytest.raises(InvalidArgument, match="floor"):
        c.threshold_for("strict", 0.98, "threshold")
    c.close()


async def test_large_group_moves_into_hnsw_and_still_finds_its_vectors() -> None:
    c = cache(Clock(), max_entries=5000)
    vectors = [unit(1000 + i) for i in range(1500)]
    for i, v in enumerate(vectors):
        await put(c, f"q{i}", v)
    group = next(iter(c.vectors.groups.values()))
    assert group.index is not None, "past hnsw_min the group uses hnswlib"
    found = 0
    for i in range(0, 1500, 50):
        result = await c.lookup_semantic(key(f"paraphrase {i}"), vectors[i], 0.97)
        found += result.entry is not None and result.entry.question == f"q{i}"
    assert found == 30
    # Deleting most of the group compacts the index and keeps the rest searchable.
    for i in range(0, 1200):
        await c.invalidate_id((await c.lookup_exact(key(f"q{i}"))).id)  # type: ignore[union-attr]
    result = await c.lookup_semantic(key("paraphrase"), vectors[1400], 0.97)
    assert result.entry is not None
    assert result.entry.question == "q1400"
    c.close()
